"""Reads of one shard: a key's winner, stream positions, conflicts, counts."""

from __future__ import annotations

from typing import Any

from storage.dedup.models import Conflict, Origin, StoredEvent

SELECT_EVENT = """
SELECT tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms
FROM dedup_events
WHERE tenant_id = $1 AND event_id = $2
"""

SELECT_POSITIONS = "SELECT stream, seq FROM applied_positions"

SELECT_CONFLICTS = """
SELECT *
FROM dedup_conflicts
WHERE $1::text IS NULL OR tenant_id = $1
ORDER BY tenant_id, event_id, loser_region, loser_node, loser_seq
LIMIT $2
"""

COUNT_EVENTS = "SELECT count(*) FROM dedup_events"
COUNT_COPIES = "SELECT count(*) FROM dedup_copies"
COUNT_CONFLICTS = "SELECT count(*) FROM dedup_conflicts"


async def fetch_event(pool: Any, tenant_id: str, event_id: str) -> StoredEvent | None:
    """The event stored for (`tenant_id`, `event_id`) on this shard, None when it has none."""
    row = await pool.fetchrow(SELECT_EVENT, tenant_id, event_id)
    if row is None:
        return None
    return StoredEvent(
        tenant_id=row["tenant_id"],
        event_id=row["event_id"],
        event=bytes(row["event"]),
        origin=Origin(row["region"], row["node"], int(row["seq"])),
        hlc=int(row["hlc"]),
        accepted_at_ms=int(row["accepted_at_ms"]),
        digest=bytes(row["digest"]),
    )


async def fetch_positions(pool: Any) -> dict[str, int]:
    """Every stream this shard has applied, with its highest applied seq."""
    return {row["stream"]: int(row["seq"]) for row in await pool.fetch(SELECT_POSITIONS)}


async def fetch_conflicts(pool: Any, tenant_id: str | None, limit: int) -> list[Conflict]:
    """Up to `limit` conflicts, ordered by key, then by the losing record's origin."""
    return [
        Conflict(
            tenant_id=row["tenant_id"],
            event_id=row["event_id"],
            winner=Origin(row["winner_region"], row["winner_node"], int(row["winner_seq"])),
            winner_hlc=int(row["winner_hlc"]),
            winner_digest=bytes(row["winner_digest"]),
            loser=Origin(row["loser_region"], row["loser_node"], int(row["loser_seq"])),
            loser_hlc=int(row["loser_hlc"]),
            loser_digest=bytes(row["loser_digest"]),
        )
        for row in await pool.fetch(SELECT_CONFLICTS, tenant_id, limit)
    ]


async def fetch_count(pool: Any, query: str) -> int:
    """The count `query` (a `SELECT count(*)` constant of this module) returns."""
    return int(await pool.fetchval(query))


def conflict_order(conflict: Conflict) -> tuple[str, str, str, str, int]:
    """The order SELECT_CONFLICTS returns, for merging the answers of several shards."""
    loser = conflict.loser
    return (conflict.tenant_id, conflict.event_id, loser.region, loser.node, loser.seq)
