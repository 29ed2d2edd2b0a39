"""The rows demotion reads and the conditional UPDATEs that move their bodies, on one dedup shard
(migration 0006).

A tenant's rows are walked in primary-key order (tenant_id, event_id) from a keyset checkpoint:
the event id after which the walk goes on ("" before the first), so no index beyond the key is
needed and a resumed walk reads nothing twice. An UPDATE touches a row only while it still holds
the winner (region, node, seq) and the tier that were read; a row changed meanwhile (an earlier
record displaced the winner, which the trigger makes hot again, or another run moved it) is left
as it is and reported as not moved.

Each UPDATE is driven from its batch: the batch's rows are joined to dedup_events on the full
primary key with the tenant a column of the batch, so dedup_events has no condition of its own and
the planner's choice rests on the table's physical size, not on statistics (a lookup by key per
row of the batch, or on a small shard one pass over it). With the tenant as a constant, a shard
that no ANALYZE had seen yet (a bulk load) estimated one matching row and ran a nested loop over
all of the tenant's rows in the tier: ~1 s for a 500-row batch instead of ~35 ms
(tests/integration/test_tiering_demotion_plan.py checks the plan on such a shard).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.cold_location import ColdLocation
from storage.tiering.body_row import BodyTier

START = ""
"""The checkpoint of a walk that has not begun: every event id sorts after it."""

_SELECT = """
SELECT event_id, region, node, seq, digest, {body} AS body
FROM dedup_events
WHERE tenant_id = $1 AND event_id > $2 AND body_tier = $3 AND accepted_at_ms <= $4
ORDER BY event_id
LIMIT $5
"""
SELECT_HOT = _SELECT.format(body="event")
SELECT_WARM = _SELECT.format(body="warm_body")

# The batch's tenant is one column of the batch (`TENANT_COLUMN`), not a constant the planner
# could push down to dedup_events: as a constant it becomes a scan of all of the tenant's rows.
TENANT_COLUMN = "array_fill($1::text, ARRAY[cardinality({event_ids}::text[])])"
_SAME_WINNER = """
WHERE d.tenant_id = m.tenant_id AND d.event_id = m.event_id AND d.region = m.region
  AND d.node = m.node AND d.seq = m.seq AND d.body_tier = {tier}
RETURNING d.event_id
"""
TO_WARM = f"""
UPDATE dedup_events AS d
SET body_tier = {BodyTier.WARM:d}, event = NULL, warm_body = m.blob
FROM unnest({TENANT_COLUMN.format(event_ids="$2")},
            $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bytea[])
    AS m(tenant_id, event_id, region, node, seq, blob)
{_SAME_WINNER.format(tier=int(BodyTier.HOT))}"""
TO_COLD = f"""
UPDATE dedup_events AS d
SET body_tier = {BodyTier.COLD:d}, warm_body = NULL, cold_pack_id = $2, cold_offset = m.blob_offset,
    cold_length = m.blob_length, cold_sha256 = m.blob_sha256
FROM unnest({TENANT_COLUMN.format(event_ids="$3")},
            $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[],
            $9::bytea[])
    AS m(tenant_id, event_id, region, node, seq, blob_offset, blob_length, blob_sha256)
{_SAME_WINNER.format(tier=int(BodyTier.WARM))}"""


@dataclass(frozen=True)
class TierRow:
    """A row read for demotion: its key, the winner it held when read, the winner's content
    digest, and the body as its tier holds it (the event for hot, the codec blob for warm)."""

    event_id: str
    region: str
    node: str
    seq: int
    digest: bytes
    body: bytes


async def fetch_rows(
    db: Any, tenant: str, after: str, tier: int, accepted_by_ms: int, limit: int
) -> list[TierRow]:
    """Up to `limit` of `tenant`'s rows in `tier` accepted at or before `accepted_by_ms`, with
    event ids after `after`, in key order. `db` is an asyncpg pool or connection."""
    query = SELECT_HOT if tier == BodyTier.HOT else SELECT_WARM
    rows = await db.fetch(query, tenant, after, tier, accepted_by_ms, limit)
    return [
        TierRow(r["event_id"], r["region"], r["node"], r["seq"], bytes(r["digest"]), r["body"])
        for r in rows
    ]


async def move_to_warm(
    db: Any, tenant: str, rows: Sequence[TierRow], blobs: Sequence[bytes]
) -> set[str]:
    """Give each hot row of `rows` its warm blob (same position in `blobs`) in one statement;
    the event ids of the rows moved (the others changed since they were read)."""
    moved = await db.fetch(TO_WARM, tenant, *_winners(rows), list(blobs))
    return {row["event_id"] for row in moved}


async def move_to_cold(
    db: Any, tenant: str, pack_id: str, rows: Sequence[TierRow], locations: Sequence[ColdLocation]
) -> set[str]:
    """Point each warm row of `rows` at its blob in pack `pack_id` (same position in
    `locations`) in one statement; the event ids of the rows moved."""
    moved = await db.fetch(
        TO_COLD,
        tenant,
        pack_id,
        *_winners(rows),
        [location.offset for location in locations],
        [location.length for location in locations],
        [bytes.fromhex(location.sha256) for location in locations],
    )
    return {row["event_id"] for row in moved}


def _winners(rows: Sequence[TierRow]) -> tuple[list[str], list[str], list[str], list[int]]:
    return (
        [row.event_id for row in rows],
        [row.region for row in rows],
        [row.node for row in rows],
        [row.seq for row in rows],
    )
