"""Shared pieces of the ops API's integration tests (this module holds no tests itself): known
keys applied to fresh regions, a body moved to warm, and routing epochs of a re-sharding run."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from ledger.config import RegionConfig
from ledger.ring import shard_of
from ledger.stream_id import StreamId
from storage.dedup import DedupStore
from tests.integration.test_dedup_helpers import record

US_ACME = [f"evt-{i:03d}" for i in range(40)]
US_GLOBEX = [f"gx-{i:03d}" for i in range(10)]
WARM_KEY = ("acme", US_ACME[7])
MIGRATION_ID = "grow-eu-1-to-2"


def keys_on(tenant: str, prefix: str, ring_size: int, shard: int, count: int) -> list[str]:
    """The first `count` event ids `<prefix>-<i>` whose shard on a `ring_size` ring is `shard`."""
    found = (f"{prefix}-{i:03d}" for i in range(10_000))
    return [e for e in found if shard_of(tenant, e, ring_size) == shard][:count]


# Written to eu while its ring is 1 shard, then while it dual-writes to the 2-shard ring: the
# latter move to shard 1 of the next ring, so that shard holds them and only them.
EU_BEFORE = [f"eu-{i:03d}" for i in range(6)]
EU_DUAL_WRITTEN = keys_on("acme", "eu-dual", 2, 1, 2)


async def apply_keys(
    region: RegionConfig, stream: StreamId, keys: Sequence[tuple[str, str]], first_seq: int = 1
) -> None:
    """Apply one record per key from `stream`, seqs from `first_seq`, recording the position."""
    records = [
        record(
            event_id,
            tenant_id=tenant,
            hlc=1000 + first_seq + i,
            region=stream.region,
            node=stream.node,
            seq=first_seq + i,
            content=f"{tenant}/{event_id}",
        )
        for i, (tenant, event_id) in enumerate(keys)
    ]
    async with await DedupStore.open(region) as store:
        await store.apply(records, stream=str(stream), through_seq=first_seq + len(records) - 1)


async def on_database(dsn: str, sql: str, *args: object) -> str:
    """Run one statement on a database of its own connection; its status line."""
    conn = await asyncpg.connect(dsn)
    try:
        status: str = await conn.execute(sql, *args)
        return status
    finally:
        await conn.close()


async def move_body_to_warm(region: RegionConfig, shard: int, tenant: str, event_id: str) -> None:
    """Put the key's body in the warm column, as demotion would (the bytes are not read here)."""
    moved = await on_database(
        region.shard_dsns[shard],
        "UPDATE dedup_events SET body_tier = 1, warm_body = event, event = NULL "
        "WHERE tenant_id = $1 AND event_id = $2",
        tenant,
        event_id,
    )
    assert moved == "UPDATE 1"


async def ring_of_one(region: RegionConfig) -> None:
    """Make a freshly migrated region's route a ring of 1 shard (nothing applied yet)."""
    await on_database(
        region.control_dsn,
        "UPDATE dedup_routing SET ring_size = 1 WHERE epoch = 1 AND phase = 'stable'",
    )


async def start_growing(region: RegionConfig, migration_id: str) -> None:
    """Append the epochs a run growing the region's 1-shard ring to 2 appends up to dual-write."""
    for epoch, phase in ((2, "copy"), (3, "dual_write")):
        await on_database(
            region.control_dsn,
            "INSERT INTO dedup_routing (epoch, ring_size, next_ring_size, phase, migration_id)"
            " VALUES ($1, 1, 2, $2, $3)",
            epoch,
            phase,
            migration_id,
        )
