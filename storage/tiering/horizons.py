"""Per-tenant retention horizons as each dedup shard stores them (migration 0007).

The horizon (ledger/retention.py) is recorded in every shard of a region before anything below it
is deleted there, because each shard's dedup apply reads it to refuse expired records. Recording
only ever raises it, so an expiry with an older clock, or a region catching up, cannot lower it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

RECORD = """
INSERT INTO retention_horizons AS h (tenant_id, horizon_hlc, as_of_ms) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id) DO UPDATE
SET horizon_hlc = excluded.horizon_hlc, as_of_ms = excluded.as_of_ms, updated_at = now()
WHERE excluded.horizon_hlc > h.horizon_hlc
"""
SELECT_ALL = "SELECT tenant_id, horizon_hlc FROM retention_horizons"


async def record_horizon(
    shards: Sequence[Any], tenant: str, horizon_hlc: int, as_of_ms: int
) -> None:
    """Raise `tenant`'s horizon to `horizon_hlc` on every shard of `shards` (asyncpg pools), one
    committed statement each; a shard with a higher one keeps it."""
    for shard in shards:
        await shard.execute(RECORD, tenant, horizon_hlc, as_of_ms)


async def read_horizons(shards: Sequence[Any]) -> dict[str, int]:
    """Each tenant's horizon over `shards`: the highest any shard holds (they agree once an
    expiry has recorded it everywhere)."""
    found: dict[str, int] = {}
    for shard in shards:
        for row in await shard.fetch(SELECT_ALL):
            tenant, horizon = row["tenant_id"], int(row["horizon_hlc"])
            found[tenant] = max(found.get(tenant, 0), horizon)
    return found


def higher_horizons(per_region: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Per tenant, the higher horizon of the regions: what a geo check compares above, since
    records below it may already be gone in one region and not yet in the other."""
    merged: dict[str, int] = {}
    for horizons in per_region:
        for tenant, horizon in horizons.items():
            merged[tenant] = max(merged.get(tenant, 0), horizon)
    return merged
