"""Reads of one shard: a key's winner, stream positions, conflicts, counts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg

from storage.dedup.errors import DedupError
from storage.dedup.models import Conflict, Origin, StoredEvent
from storage.tiering.body_row import BODY_COLUMNS, BodyRow, BodyTier
from storage.tiering.read_errors import TieredBodiesMissingError
from storage.tiering.reader import TieredBodies

SELECT_EVENT = f"""
SELECT tenant_id, event_id, hlc, region, node, seq, digest, accepted_at_ms, {BODY_COLUMNS}
FROM dedup_events
WHERE tenant_id = $1 AND event_id = $2
"""

SELECT_POSITIONS = "SELECT stream, seq FROM applied_positions"

SELECT_HELD_IDS = """
SELECT event_id FROM dedup_events WHERE tenant_id = $1 AND event_id = ANY($2::text[])
"""

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


async def fetch_event(
    pool: Any,
    tenant_id: str,
    event_id: str,
    bodies: TieredBodies | None,
    *,
    promote: bool = True,
) -> StoredEvent | None:
    """The event stored for (`tenant_id`, `event_id`) on this shard, None when it has none.

    Its body comes from the tier it is in through `bodies` (which may promote it back to hot,
    unless `promote` is False);
    without `bodies` only a hot body can be read, and a lower one raises
    TieredBodiesMissingError. Raises TieredReadError for a body that fails its checks, DedupError
    when the shard lacks the body tier columns (migration 0006).
    """
    try:
        found = await pool.fetchrow(SELECT_EVENT, tenant_id, event_id)
    except asyncpg.UndefinedColumnError as exc:
        raise DedupError(
            f"read: the shard has no body tier columns ({exc}); expected schema version 6 or "
            "later: run `geoledger db migrate`"
        ) from exc
    if found is None:
        return None
    row = BodyRow.from_record(found)
    if bodies is not None:
        body = await bodies.read(pool, row, promote=promote)
    elif row.tier is BodyTier.HOT and row.event is not None:
        body = row.event
    else:
        raise TieredBodiesMissingError(tenant_id, event_id, row.tier.label)
    return StoredEvent(
        tenant_id=row.tenant_id,
        event_id=row.event_id,
        event=body,
        origin=Origin(row.region, row.node, row.seq),
        hlc=int(found["hlc"]),
        accepted_at_ms=int(found["accepted_at_ms"]),
        digest=row.digest,
    )


async def fetch_held_ids(pool: Any, tenant_id: str, event_ids: Sequence[str]) -> set[str]:
    """Those of the tenant's `event_ids` this shard holds a winner for (rows only, no body)."""
    return {row["event_id"] for row in await pool.fetch(SELECT_HELD_IDS, tenant_id, event_ids)}


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


async def keys_per_shard(pools: Sequence[Any]) -> list[int]:
    """Keys (winning records) each of `pools` holds, in order, counted concurrently."""
    return list(await asyncio.gather(*(fetch_count(pool, COUNT_EVENTS) for pool in pools)))


def conflict_order(conflict: Conflict) -> tuple[str, str, str, str, int]:
    """The order SELECT_CONFLICTS returns, for merging the answers of several shards."""
    loser = conflict.loser
    return (conflict.tenant_id, conflict.event_id, loser.region, loser.node, loser.seq)
