"""Helpers of the tiered-read tests (no tests here): real signed records, and demotion by hand
with the codec, PackBuilder, write_pack and the same conditional UPDATE demotion uses, so the
read path is tested against bodies placed exactly as the contract says."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from ledger.config import RegionConfig
from ledger.event_wire import parse_signed_event
from ledger.record import WalRecord
from storage.dedup import DedupRecord, DedupStore, migrate_region
from storage.dedup.from_wal import dedup_record_from
from storage.objectstore import ObjectStore
from storage.tiering.codec import encode
from storage.tiering.packs import PackBuilder, write_pack
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region
from tests.support.tenants import TestTenant

KEY_ROW = "tenant_id = $1 AND event_id = $2 AND region = $3 AND node = $4 AND seq = $5"
TO_WARM = f"""
UPDATE dedup_events SET body_tier = 1, event = NULL, warm_body = $6
WHERE {KEY_ROW} AND body_tier = 0
"""
TO_COLD = f"""
UPDATE dedup_events SET body_tier = 2, event = NULL, warm_body = NULL,
    cold_pack_id = $6, cold_offset = $7, cold_length = $8, cold_sha256 = $9
WHERE {KEY_ROW} AND body_tier = 0
"""
TIER_OF = "SELECT body_tier FROM dedup_events WHERE tenant_id = $1 AND event_id = $2"
STORED = """
SELECT tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms
FROM dedup_events WHERE tenant_id = $1 AND event_id = $2
"""


async def one_shard_region(running_stack: RunningStack, prefix: str) -> RegionConfig:
    """A migrated copy of the `us` region whose control database and single shard are new."""
    config = await fresh_region(running_stack, prefix, shards=1)
    await migrate_region(config)
    return config


@asynccontextmanager
async def shard_pool(region: RegionConfig) -> AsyncIterator[Any]:
    """A small pool on the region's first shard, closed on the way out."""
    pool = await asyncpg.create_pool(region.shard_dsns[0], min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


def signed_record(tenant: TestTenant, event_id: str, seq: int, note: str = "x") -> DedupRecord:
    """The dedup record of a real signed event of `tenant`, as stream us/n1 at `seq` holds it."""
    event = parse_signed_event(tenant.event(event_id, {"seq": seq, "note": note}))
    wal = WalRecord(
        hlc=1_000 + seq, region="us", node="n1", accepted_at_ms=1_700_000_000_000, event=event
    )
    return dedup_record_from(wal, seq)


def _key(record: DedupRecord) -> tuple[str, str, str, str, int]:
    return (record.tenant_id, record.event_id, record.region, record.node, record.seq)


async def make_warm(shard: Any, record: DedupRecord, level: int = 3) -> bytes:
    """Move `record`'s hot body to warm as a zstd blob; return the blob."""
    blob = encode(record.event, level, None).blob
    assert await shard.execute(TO_WARM, *_key(record), blob) == "UPDATE 1"
    return blob


async def make_cold(
    shard: Any,
    store: ObjectStore,
    records: Sequence[DedupRecord],
    level: int = 3,
    storage_class: str | None = None,
) -> str:
    """Move the hot bodies of `records` (one tenant) into one pack written to `store` (in
    `storage_class`); return the pack id."""
    tenant = records[0].tenant_id
    builder = PackBuilder(tenant)
    for record in records:
        builder.add(tenant, record.event_id, encode(record.event, level, None).blob)
    built = builder.finish()
    await write_pack(store, tenant, built, storage_class)
    for record, entry in zip(records, built.entries, strict=True):
        location = entry.location
        arguments = (location.pack_id, location.offset, location.length)
        status = await shard.execute(
            TO_COLD, *_key(record), *arguments, bytes.fromhex(location.sha256)
        )
        assert status == "UPDATE 1"
    return built.pack_id


async def tier_of(shard: Any, record: DedupRecord) -> int:
    """The row's body_tier now."""
    return int(await shard.fetchval(TIER_OF, record.tenant_id, record.event_id))


async def stored_record(shard: Any, tenant_id: str, event_id: str) -> DedupRecord:
    """The winner a shard holds hot for a key (as an ingest node applied it)."""
    row = await shard.fetchrow(STORED, tenant_id, event_id)
    return DedupRecord(
        **{**dict(row), "event": bytes(row["event"]), "digest": bytes(row["digest"])}
    )


class OneRegion:
    """The tiering activities' resources (activities.tiering.TieringResources) of one region's
    dedup store and object store, whatever region is asked for."""

    def __init__(self, dedup: DedupStore, store: ObjectStore) -> None:
        self._dedup, self._store = dedup, store

    async def dedup(self, region: str) -> DedupStore:
        return self._dedup

    def store(self, region: str) -> ObjectStore:
        return self._store
