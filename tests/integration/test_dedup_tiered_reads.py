"""DedupStore over tiers, on the real stack: a store opened with `tiering` finds a key's body in
whatever tier it is in (the region's own object store for cold); one opened without it still
reads hot bodies and refuses lower ones clearly; a dedup decision never reads a body (a key whose
pack is gone still answers duplicate and conflict); a shard without the body tier columns
(migration 0006) says to run `geoledger db migrate`, as it does for 0004; a read promotes no body
while the region is being re-sharded."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from ledger.config import RegionConfig
from ledger.tier_policy import TierPolicy
from storage.dedup import DedupShardError, DedupStore, Phase, migrate_region
from storage.dedup.models import Outcome
from storage.objectstore import open_object_store
from storage.tiering.packs import pack_key
from storage.tiering.read_errors import TieredBodiesMissingError, TieredReadError
from storage.tiering.reader import TierReadOptions
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import (
    advance_store,
    fresh_region,
    migrate_shards_before,
)
from tests.integration.tiering_support import make_cold, make_warm, signed_record, tier_of
from tests.support.tenants import tenant

pytestmark = pytest.mark.timeout(120)

BODY_TIERS_VERSION = 6
OPTIONS = TierReadOptions(
    defaults=TierPolicy(promote_on_read=False),
    sections={},
    max_body_bytes=1024 * 1024,
    dictionary_cache_size=4,
    restore_retry_after_s=60,
)


@pytest.fixture(scope="module")
async def region(running_stack: RunningStack) -> RegionConfig:
    config = await fresh_region(running_stack, "dd_tier_get", shards=2)
    await migrate_region(config)
    return config


async def test_get_event_finds_the_body_in_every_tier(region: RegionConfig) -> None:
    owner = tenant(f"t-{uuid.uuid4().hex[:10]}")
    records = [signed_record(owner, f"evt-{n}", seq=n) for n in range(1, 4)]
    hot, warm, cold = records
    async with await DedupStore.open(region, tiering=OPTIONS) as store:
        await store.apply(records)
        shard_of = {r.event_id: store.route.read_shard(r.tenant_id, r.event_id) for r in records}
        await make_warm(store.pools.shards[shard_of[warm.event_id]], warm)
        cold_shard = store.pools.shards[shard_of[cold.event_id]]
        await make_cold(cold_shard, open_object_store(region.object_store), [cold])

        for record in records:
            stored = await store.get_event(record.tenant_id, record.event_id)
            assert stored is not None
            assert (stored.event, stored.digest) == (record.event, record.digest)
            assert (stored.origin.seq, stored.hlc) == (record.seq, record.hlc)
        assert await tier_of(cold_shard, cold) == 2  # this tenant's policy does not promote

    async with await DedupStore.open(region) as hot_only:
        stored = await hot_only.get_event(hot.tenant_id, hot.event_id)
        assert stored is not None and stored.event == hot.event
        with pytest.raises(TieredBodiesMissingError, match=f"{warm.event_id} is warm"):
            await hot_only.get_event(warm.tenant_id, warm.event_id)


async def test_a_dedup_decision_never_reads_a_body(region: RegionConfig) -> None:
    owner = tenant(f"t-{uuid.uuid4().hex[:10]}")
    winner = signed_record(owner, "evt-1", seq=1)
    same = signed_record(owner, "evt-1", seq=1)
    other = signed_record(owner, "evt-1", seq=2, note="other")
    later = [
        replace(r, node="n2", seq=10 + i, hlc=r.hlc + 10_000) for i, r in enumerate((same, other))
    ]
    objects = open_object_store(region.object_store)
    async with await DedupStore.open(region, tiering=OPTIONS) as store:
        await store.apply([winner])
        shard = store.pools.shards[store.route.read_shard(winner.tenant_id, winner.event_id)]
        pack_id = await make_cold(shard, objects, [winner])
        await objects.delete(pack_key(winner.tenant_id, pack_id))

        results = await store.apply(later)

        assert [r.outcome for r in results] == [Outcome.DUPLICATE, Outcome.CONFLICT]
        assert {r.winner.seq for r in results} == {winner.seq}
        assert await tier_of(shard, winner) == 2
        with pytest.raises(TieredReadError, match="not_found"):
            await store.get_event(winner.tenant_id, winner.event_id)


async def test_a_shard_without_body_tiers_says_to_migrate(running_stack: RunningStack) -> None:
    previous = await fresh_region(running_stack, "dd_tier_old", shards=1)
    await migrate_shards_before(previous, BODY_TIERS_VERSION)
    record = signed_record(tenant("acme"), "evt-1", seq=1)
    async with await DedupStore.open(previous, tiering=OPTIONS) as store:
        await store.apply([record])
        with pytest.raises(DedupShardError, match="run `geoledger db migrate`"):
            await store.get_event(record.tenant_id, record.event_id)


async def test_a_read_promotes_nothing_while_the_region_re_shards(
    running_stack: RunningStack,
) -> None:
    region = await fresh_region(running_stack, "dd_tier_hold", shards=2)
    await migrate_region(region)
    owner = tenant(f"t-{uuid.uuid4().hex[:10]}")
    warm = signed_record(owner, "evt-1", seq=1)
    promoting = replace(OPTIONS, defaults=TierPolicy(promote_on_read=True))
    async with await DedupStore.open(region, tiering=promoting) as store:
        await store.apply([warm])
        shard = store.pools.shards[store.route.read_shard(warm.tenant_id, warm.event_id)]
        await make_warm(shard, warm)
        for from_epoch, phase, tier in ((1, Phase.COPY, 1), (2, Phase.STABLE, 0)):
            await advance_store(store, from_epoch, phase, next_ring_size=1)

            stored = await store.get_event(warm.tenant_id, warm.event_id)

            assert stored is not None and stored.event == warm.event
            assert await tier_of(shard, warm) == tier, phase
