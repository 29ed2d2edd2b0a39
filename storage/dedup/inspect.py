"""Read-only inspection of a region's dedup databases for operators (the ops API): how big each
shard is, a sample of a tenant's keys, where one key's row is and which tier its body is in, and
the routing epochs of re-sharding runs. Nothing here writes, and no body is ever read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.dedup.routing import Route
from storage.tiering.body_row import BodyTier

# `bytes` is what the shard's dedup state occupies on disk: key rows (with hot and warm bodies
# and their TOAST) and the copies, indexes included; cold bodies live in the object store.
SELECT_SHARD_SIZE = """
SELECT (SELECT count(*) FROM dedup_events) AS keys,
       pg_total_relation_size('dedup_events') + pg_total_relation_size('dedup_copies') AS bytes
"""

# ORDER BY random() reads the tenant's whole key range of the shard: fine for an operator's
# occasional look, which is all this serves.
SELECT_SAMPLE_KEYS = """
SELECT event_id
FROM dedup_events
WHERE tenant_id = $1
ORDER BY random()
LIMIT $2
"""

SELECT_BODY_TIER = """
SELECT body_tier
FROM dedup_events
WHERE tenant_id = $1 AND event_id = $2
"""

SELECT_MIGRATION_EPOCHS = """
SELECT epoch, ring_size, next_ring_size, phase, migration_id, created_at
FROM dedup_routing
WHERE migration_id IS NOT NULL
ORDER BY epoch
"""


@dataclass(frozen=True, slots=True)
class ShardSize:
    """How many keys one shard holds, and the bytes its dedup tables occupy."""

    keys: int
    bytes: int


@dataclass(frozen=True, slots=True)
class MigrationEpoch:
    """A routing epoch appended by a re-sharding run, and when it was appended."""

    route: Route
    created_at: datetime


async def fetch_shard_size(pool: Any) -> ShardSize:
    """The shard's key count (exact) and the on-disk size of its dedup tables."""
    row = await pool.fetchrow(SELECT_SHARD_SIZE)
    return ShardSize(keys=int(row["keys"]), bytes=int(row["bytes"]))


async def fetch_sample_keys(pool: Any, tenant_id: str, limit: int) -> list[str]:
    """Up to `limit` event ids of `tenant_id` on this shard, picked at random."""
    return [row["event_id"] for row in await pool.fetch(SELECT_SAMPLE_KEYS, tenant_id, limit)]


async def fetch_body_tier(pool: Any, tenant_id: str, event_id: str) -> BodyTier | None:
    """The tier of the key's body on this shard, None when the shard has no row for the key."""
    tier = await pool.fetchval(SELECT_BODY_TIER, tenant_id, event_id)
    return None if tier is None else BodyTier(tier)


async def fetch_migration_epochs(conn: Any) -> list[MigrationEpoch]:
    """Every epoch of the control database's routing table that names a migration, oldest
    first."""
    return [
        MigrationEpoch(route=Route.from_row(row), created_at=row["created_at"])
        for row in await conn.fetch(SELECT_MIGRATION_EPOCHS)
    ]
