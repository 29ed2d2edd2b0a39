"""Retention inside cold packs on the real stack (storage/tiering/pack_rewrite.py, run by the
tier_expire_batch activity; S3 on moto, GCS on fake-gcs-server): a pack mixing expired and live
bodies is rewritten with the live ones only, the old object goes with its dictionary record, every
live body reads back byte-identical through DedupStore.get_event, no object of the tenant holds an
expired body's bytes, a second run does nothing, and a stop at each crash point loses nothing and
is finished by the next run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.tiering import TieringActivities
from activities.tiering_models import ExpireBatchInput
from ledger.config import RegionConfig
from ledger.tier_config import TenantPolicy
from storage.dedup import DedupRecord, DedupStore, migrate_region
from storage.objectstore import ObjectStore, open_object_store
from storage.tiering import pack_rewrite as rewrite_module
from storage.tiering.codec import encode
from storage.tiering.demotion_rows import START
from storage.tiering.dictionary_records import (
    forget_pack_dictionaries,
    pack_dictionaries,
    record_pack_dictionaries,
)
from storage.tiering.pack_rewrite import (
    CRASH_AFTER_REWRITE_MOVED,
    CRASH_AFTER_REWRITE_WRITTEN,
    rewrite_packs,
)
from tests.conftest import RunningStack
from tests.integration.objectstore_support import fresh_config
from tests.integration.test_dedup_helpers import fresh_region
from tests.integration.test_dedup_tiered_reads import OPTIONS
from tests.integration.test_tiering_retention import (
    AS_OF_MS,
    HORIZON,
    RETENTION_DAYS,
    expire_all,
    pack_keys,
    signed,
    with_tenant_policy,
)
from tests.integration.tiering_support import (
    OneRegion,
    make_cold,
    make_warm,
    shard_pool,
)
from tests.support.tenants import TestTenant as Owner
from tests.support.tenants import tenant

pytestmark = pytest.mark.timeout(180)

DICT_ID = "ab" * 16


@pytest.fixture(params=["s3", "gcs"])
async def region(
    request: pytest.FixtureRequest,
    running_stack: RunningStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> RegionConfig:
    config = await fresh_region(running_stack, "tier_rewrite", shards=1)
    store = fresh_config(str(request.param), running_stack, tmp_path_factory.mktemp("rw"), "rw")
    config = config.model_copy(update={"object_store": store})
    await migrate_region(config)
    return config


@pytest.fixture
def store(region: RegionConfig) -> ObjectStore:
    return open_object_store(region.object_store)


@pytest.fixture
async def shard(region: RegionConfig) -> AsyncIterator[Any]:
    async with shard_pool(region) as pool:
        yield pool


@pytest.fixture
def owner() -> Owner:
    return tenant(f"t-{uuid.uuid4().hex[:12]}")


async def _mixed_packs(
    region: RegionConfig, shard: Any, store: ObjectStore, owner: Owner
) -> tuple[list[DedupRecord], list[DedupRecord], str, str]:
    """Expired and live records interleaved in one pack, a pack of live ones only, a warm one;
    returns (expired, live, mixed pack id, live pack id)."""
    expired = [signed(owner, f"e-{i:02d}-old", 40, seq=i + 1) for i in range(4)]
    live = [signed(owner, f"e-{i:02d}-new", 10, seq=20 + i) for i in range(4)]
    async with await DedupStore.open(region) as dedup:
        await dedup.apply([*expired, *live])
    mixed = [expired[0], live[0], expired[1], live[1], expired[2]]
    mixed_pack = await make_cold(shard, store, mixed)
    live_pack = await make_cold(shard, store, [live[2]])
    await make_warm(shard, expired[3])
    control = await asyncpg.connect(region.control_dsn)
    try:
        await record_pack_dictionaries(control, owner.tenant_id, mixed_pack, {DICT_ID: 5})
    finally:
        await control.close()
    return expired, live, mixed_pack, live_pack


async def _objects(store: ObjectStore, owner: Owner) -> list[bytes]:
    return [await store.get(key) for key in sorted(await pack_keys(store, owner))]


async def _assert_retained(
    region: RegionConfig,
    store: ObjectStore,
    owner: Owner,
    expired: list[DedupRecord],
    live: list[DedupRecord],
) -> None:
    """Every live body reads back byte-identical; no object holds an expired body's bytes."""
    async with await DedupStore.open(region, tiering=OPTIONS) as reader:
        for record in live:
            stored = await reader.get_event(record.tenant_id, record.event_id)
            assert stored is not None
            assert (stored.event, stored.digest) == (record.event, record.digest)
    objects = await _objects(store, owner)
    for record in expired:
        blob = encode(record.event, 3, None).blob
        assert not any(blob in data or record.event in data for data in objects)


async def test_expiry_rewrites_a_pack_of_expired_and_live_bodies(
    running_stack: RunningStack, region: RegionConfig, shard: Any, store: ObjectStore, owner: Owner
) -> None:
    expired, live, mixed_pack, live_pack = await _mixed_packs(region, shard, store, owner)
    prefix = f"tiering/packs/{owner.tenant_id}"
    settings = with_tenant_policy(
        running_stack.settings, owner, TenantPolicy(retention_days=RETENTION_DAYS)
    )
    request = ExpireBatchInput(
        tenant=owner.tenant_id, region="us", shard=0, after=START, as_of_ms=AS_OF_MS
    )
    async with await DedupStore.open(region) as dedup:
        activities = TieringActivities(settings, OneRegion(dedup, store))
        result = await ActivityEnvironment().run(activities.expire_batch, request)
        again = await ActivityEnvironment().run(activities.expire_batch, request)

    assert (result.winners, result.packs_rewritten, result.blobs_dropped) == (4, 1, 3)
    assert result.packs == 1  # the old mixed pack
    keys = await pack_keys(store, owner)
    assert f"{prefix}/{mixed_pack}.pack" not in keys and f"{prefix}/{live_pack}.pack" in keys
    assert len(keys) == 2
    rewritten = await shard.fetchval(
        "SELECT cold_pack_id FROM dedup_events WHERE tenant_id = $1 AND event_id = $2",
        owner.tenant_id,
        live[0].event_id,
    )
    assert f"{prefix}/{rewritten}.pack" in keys
    control = await asyncpg.connect(region.control_dsn)
    try:
        # Plain zstd blobs need no dictionary: the new pack records none, the old one is gone.
        assert await pack_dictionaries(control, owner.tenant_id) == {}
    finally:
        await control.close()
    await _assert_retained(region, store, owner, expired, live)
    assert (again.winners, again.packs, again.packs_rewritten) == (0, 0, 0)
    assert await pack_keys(store, owner) == keys


@pytest.mark.parametrize("stop", [CRASH_AFTER_REWRITE_WRITTEN, CRASH_AFTER_REWRITE_MOVED])
async def test_a_stop_at_each_crash_point_loses_nothing_and_the_next_run_finishes(
    region: RegionConfig,
    shard: Any,
    store: ObjectStore,
    owner: Owner,
    stop: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expired, live, mixed_pack, _ = await _mixed_packs(region, shard, store, owner)
    await expire_all(shard, store, owner, HORIZON)
    control = await asyncpg.connect(region.control_dsn)
    run = partial(
        rewrite_packs,
        [shard],
        store,
        owner.tenant_id,
        HORIZON,
        None,
        partial(record_pack_dictionaries, control),
        partial(forget_pack_dictionaries, control),
    )

    def stop_at(name: str) -> None:
        # In process, the state a SIGKILL at this crash point leaves behind.
        if name == stop:
            raise SystemExit(name)

    try:
        monkeypatch.setattr(rewrite_module, "crash_point", stop_at)
        with pytest.raises(SystemExit):
            await run()
        assert f"tiering/packs/{owner.tenant_id}/{mixed_pack}.pack" in await pack_keys(store, owner)
        async with await DedupStore.open(region, tiering=OPTIONS) as reader:
            for record in live:
                stored = await reader.get_event(record.tenant_id, record.event_id)
                assert stored is not None and stored.event == record.event

        monkeypatch.undo()
        finished = await run()
        assert finished.deleted == 1
        assert finished.rewritten == (1 if stop == CRASH_AFTER_REWRITE_WRITTEN else 0)
        assert await pack_dictionaries(control, owner.tenant_id) == {}
        assert await run() == rewrite_module.PackRewrites()
    finally:
        await control.close()
    assert len(await pack_keys(store, owner)) == 2
    await _assert_retained(region, store, owner, expired, live)
