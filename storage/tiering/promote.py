"""Promotion on read: a body read from warm or cold goes back to hot, by the same conditional
UPDATE demotion uses, so a row whose winner or tier changed since it was read is left alone."""

from __future__ import annotations

from typing import Any

from storage.tiering.body_row import BodyRow, BodyTier
from storage.tiering.metrics import TIER_PROMOTIONS

PROMOTE = """
UPDATE dedup_events
SET body_tier = 0, event = $7, warm_body = NULL,
    cold_pack_id = NULL, cold_offset = NULL, cold_length = NULL, cold_sha256 = NULL
WHERE tenant_id = $1 AND event_id = $2 AND region = $3 AND node = $4 AND seq = $5
  AND body_tier = $6
"""


async def promote(shard: Any, row: BodyRow, body: bytes) -> bool:
    """Make `body` (read from `row`'s tier and verified) the row's hot body on `shard` (an
    asyncpg pool or connection); True when the row still had that winner in that tier and was
    promoted (counted in tier_promotions_total), False when something moved it meanwhile."""
    if row.tier is BodyTier.HOT:
        return False
    status = await shard.execute(
        PROMOTE, row.tenant_id, row.event_id, row.region, row.node, row.seq, int(row.tier), body
    )
    promoted: bool = status == "UPDATE 1"
    if promoted:
        TIER_PROMOTIONS.labels(row.tier.label).inc()
    return promoted
