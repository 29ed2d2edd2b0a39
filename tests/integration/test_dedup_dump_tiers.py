"""The canonical dump does not depend on where bodies are (tiering is physical only): dumped, then
demoted by hand to warm and cold (the codec, PackBuilder, write_pack and conditional UPDATEs),
dumped again, the digests are equal, per shard and for the region; the cold bodies come from one
whole GET per pack, never a range GET per row."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import replace
from typing import Any

import pytest

from ledger.config import RegionConfig
from ledger.tier_policy import TierPolicy
from storage.dedup import DedupRecord, DedupStore, migrate_region
from storage.dedup.dump import merged_digest
from storage.objectstore import ObjectStore, open_object_store
from storage.tiering.dictionaries import DictionaryStore
from storage.tiering.read_errors import TieredBodiesMissingError
from storage.tiering.reader import TieredBodies, TierReadOptions
from storage.tiering.tenant_policies import TenantPolicies
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region
from tests.integration.tiering_support import make_cold, make_warm, signed_record
from tests.support.tenants import tenant

pytestmark = pytest.mark.timeout(120)

OPTIONS = TierReadOptions(
    defaults=TierPolicy(),
    sections={},
    max_body_bytes=1024 * 1024,
    dictionary_cache_size=4,
    restore_retry_after_s=60,
)


class CountingStore:
    """The region's store, counting whole and ranged GETs."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self.gets = 0
        self.range_gets = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get(self, key: str) -> bytes:
        self.gets += 1
        return await self._store.get(key)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        self.range_gets += 1
        return await self._store.get_range(key, start, end)


@pytest.fixture(scope="module")
async def region(running_stack: RunningStack) -> RegionConfig:
    config = await fresh_region(running_stack, "dd_dump_tiers", shards=2)
    await migrate_region(config)
    return config


def history() -> list[DedupRecord]:
    """Winners of two tenants, and later copies of some keys (a duplicate and a conflict each)."""
    records = []
    for name in (f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"):
        owner = tenant(name)
        records += [signed_record(owner, f"evt-{n:02d}", seq=n) for n in range(1, 25)]
    first = records[0]
    duplicate = signed_record(tenant(first.tenant_id), first.event_id, seq=1)
    conflict = signed_record(tenant(first.tenant_id), "evt-02", seq=2, note="other")
    later = [
        replace(r, hlc=r.hlc + 10_000, seq=100 + i, node="n2")
        for i, r in enumerate((duplicate, conflict))
    ]
    return records + later


async def test_the_dump_is_the_same_whatever_tier_each_body_is_in(region: RegionConfig) -> None:
    records = history()
    winners = records[:-2]
    async with await DedupStore.open(region, tiering=OPTIONS) as store:
        await store.apply(records)
        assert (await store.count_copies()) == (1, 1)
        region_before = await store.dump_digest_total()
        shards_before = await store.dump_digest()

        by_shard: dict[int, list[DedupRecord]] = defaultdict(list)
        for record in winners:
            by_shard[store.route.read_shard(record.tenant_id, record.event_id)].append(record)
        packs = 0
        objects = open_object_store(region.object_store)
        for shard, held in by_shard.items():
            pool = store.pools.shards[shard]
            warm, cold = held[0::3], [r for i, r in enumerate(held) if i % 3]
            for record in warm:
                await make_warm(pool, record)
            for owner in {r.tenant_id for r in cold}:
                mine = [r for r in cold if r.tenant_id == owner]
                # Two packs per tenant and shard whose bodies interleave in key order.
                for part in (mine[0::2], mine[1::2]):
                    if part:
                        await make_cold(pool, objects, part)
                        packs += 1

        assert await store.dump_digest_total() == region_before
        assert await store.dump_digest() == shards_before

        counting = CountingStore(objects)
        bodies = TieredBodies(
            counting,  # type: ignore[arg-type]
            DictionaryStore(counting, 4),  # type: ignore[arg-type]
            TenantPolicies(TierPolicy(), {}, store.pools.control),
            1024 * 1024,
            60,
        )
        pools = [store.pools.shards[shard] for shard in range(store.route.ring_size)]
        assert await merged_digest(pools, bodies) == region_before
        assert packs >= 4
        assert (counting.gets, counting.range_gets) == (packs, 0)

    async with await DedupStore.open(region) as hot_only:
        with pytest.raises(TieredBodiesMissingError):
            await hot_only.dump_digest_total()
