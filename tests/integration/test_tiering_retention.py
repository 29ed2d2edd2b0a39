"""Convergent retention on the real stack (storage/tiering/expire.py, horizons.py, migration
0007): past the tenant's retention its records go from every tier - hot and warm rows, cold rows
and the packs only they used (S3 on moto, GCS on fake-gcs-server) - behind a horizon recorded
first; a late replay of an expired record changes nothing and is answered EXPIRED; a legal hold
keeps everything; two regions that expire at different times compare equal above the higher
horizon and dump identically once both reached it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.tiering import TieringActivities
from activities.tiering_models import ExpireBatchInput
from ledger.cold_location import ColdLocation
from ledger.config import RegionConfig, Settings
from ledger.event_wire import parse_signed_event
from ledger.hlc import hlc_pack
from ledger.retention import DAY_MS, retention_horizon
from ledger.seq_range import SeqRange
from ledger.signing import content_digest
from ledger.tier_config import TenantPolicy
from ledger.tier_policy import TierPolicy
from storage.dedup import DedupRecord, DedupStore, migrate_region
from storage.dedup.models import Outcome
from storage.geo import diff_records, fetch_records, fingerprint_ranges
from storage.objectstore import ObjectStore
from storage.tiering.demotion_rows import START
from storage.tiering.dictionary_records import (
    forget_pack_dictionaries,
    pack_dictionaries,
    record_pack_dictionaries,
)
from storage.tiering.expire import ExpiryBatch, PackForgetter, expire_batch
from storage.tiering.horizons import higher_horizons, read_horizons, record_horizon
from storage.tiering.pack_reader import read_blob
from tests.conftest import RunningStack
from tests.integration.objectstore_support import open_fresh_store
from tests.integration.test_dedup_helpers import fresh_region
from tests.integration.tiering_support import (
    OneRegion,
    make_cold,
    make_warm,
    one_shard_region,
    shard_pool,
)
from tests.support.tenants import TestTenant as Owner
from tests.support.tenants import tenant

pytestmark = pytest.mark.timeout(180)

AS_OF_MS = 1_800_000_000_000
RETENTION_DAYS = 30
PAGE_ROWS = 4
RULES = TierPolicy(retention_days=RETENTION_DAYS)
HORIZON = retention_horizon(RULES, AS_OF_MS)
assert HORIZON is not None


@pytest.fixture(scope="module", params=["s3", "gcs"])
def store(
    request: pytest.FixtureRequest,
    running_stack: RunningStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> ObjectStore:
    return open_fresh_store(str(request.param), running_stack, tmp_path_factory.mktemp("expire"))


@pytest.fixture
async def region(running_stack: RunningStack) -> RegionConfig:
    return await one_shard_region(running_stack, "tier_expire")


@pytest.fixture
async def shard(region: RegionConfig) -> AsyncIterator[Any]:
    async with shard_pool(region) as pool:
        yield pool


@pytest.fixture
def owner() -> Owner:
    return tenant(f"t-{uuid.uuid4().hex[:12]}")


def signed(owner: Owner, event_id: str, age_days: float, seq: int, node: str = "n1") -> DedupRecord:
    """The record of a real signed event accepted `age_days` before AS_OF_MS (its hlc too)."""
    accepted = AS_OF_MS - int(age_days * DAY_MS)
    event = parse_signed_event(owner.event(event_id, {"seq": seq, "note": "retention"}))
    return DedupRecord(
        tenant_id=owner.tenant_id,
        event_id=event_id,
        hlc=hlc_pack(accepted, seq % 1000),
        region="us",
        node=node,
        seq=seq,
        digest=content_digest(event),
        event=event.canonical_event(),
        accepted_at_ms=accepted,
    )


async def forget_nothing(tenant: str, pack_ids: Sequence[str]) -> None:
    """Where no pack records are kept (the test reads the control database elsewhere)."""


async def expire_all(
    shard: Any,
    store: ObjectStore,
    owner: Owner,
    horizon: int,
    forget_packs: PackForgetter = forget_nothing,
) -> list[ExpiryBatch]:
    """Record the horizon, then every expiry batch of the tenant's walk."""
    await record_horizon([shard], owner.tenant_id, horizon, AS_OF_MS)
    batches, after = [], START
    while True:
        batch = await expire_batch(
            shard, [shard], store, owner.tenant_id, horizon, after, PAGE_ROWS, forget_packs
        )
        batches.append(batch)
        if batch.next_after is None:
            return batches
        after = batch.next_after


async def event_ids(shard: Any, table: str, owner: Owner) -> list[str]:
    rows = await shard.fetch(
        f"SELECT event_id FROM {table} WHERE tenant_id = $1 ORDER BY event_id", owner.tenant_id
    )
    return [row["event_id"] for row in rows]


async def pack_keys(store: ObjectStore, owner: Owner) -> set[str]:
    return {info.key async for info in store.list(prefix=f"tiering/packs/{owner.tenant_id}/")}


async def test_expiry_deletes_every_tier_and_only_packs_nobody_needs(
    region: RegionConfig, shard: Any, store: ObjectStore, owner: Owner
) -> None:
    old = [signed(owner, f"old-{i:02d}", 40, seq=i + 1) for i in range(10)]
    new = [signed(owner, f"new-{i:02d}", 10, seq=20 + i) for i in range(3)]
    # A second record of an old key, also past retention: a copy that must go with it.
    old_copy = signed(owner, "old-00", 35, seq=1, node="n2")
    async with await DedupStore.open(region) as dedup:
        await dedup.apply([*old, *new, old_copy])
    for record in old[3:6]:
        await make_warm(shard, record)
    dead_pack = await make_cold(shard, store, old[6:9])
    # A pack shared by an expired body and a live one outlives the batches; the rewrite after
    # them drops the dead blob (tests/integration/test_tiering_pack_rewrite.py).
    shared_pack = await make_cold(shard, store, [old[9], new[0]])
    control = await asyncpg.connect(region.control_dsn)
    try:
        # What demotion records of each pack (the dictionaries its blobs need) goes with it.
        for pack_id in (dead_pack, shared_pack):
            await record_pack_dictionaries(control, owner.tenant_id, pack_id, {"ab" * 16: 1})

        batches = await expire_all(
            shard, store, owner, HORIZON, partial(forget_pack_dictionaries, control)
        )

        recorded = await pack_dictionaries(control, owner.tenant_id)
    finally:
        await control.close()

    assert sum(b.winners for b in batches) == 10 and sum(b.copies for b in batches) == 1
    assert sum(b.packs for b in batches) == 1
    assert await event_ids(shard, "dedup_events", owner) == ["new-00", "new-01", "new-02"]
    assert await event_ids(shard, "dedup_copies", owner) == []
    prefix = f"tiering/packs/{owner.tenant_id}"
    assert await pack_keys(store, owner) == {f"{prefix}/{shared_pack}.pack"}
    assert dead_pack != shared_pack
    assert set(recorded) == {shared_pack}
    # The live body in the kept pack still reads back verified.
    row = await shard.fetchrow(
        "SELECT * FROM dedup_events WHERE tenant_id = $1 AND event_id = 'new-00'", owner.tenant_id
    )
    location = ColdLocation(
        pack_id=row["cold_pack_id"],
        offset=row["cold_offset"],
        length=row["cold_length"],
        sha256=bytes(row["cold_sha256"]).hex(),
    )
    assert await read_blob(store, owner.tenant_id, location)
    # Expiring again deletes nothing more.
    again = await expire_all(shard, store, owner, HORIZON)
    assert sum(b.winners + b.copies + b.packs for b in again) == 0


async def test_late_replay_of_an_expired_record_changes_nothing_and_is_reported(
    region: RegionConfig, shard: Any, store: ObjectStore, owner: Owner
) -> None:
    old, kept = signed(owner, "old", 40, seq=1), signed(owner, "kept", 10, seq=2)
    async with await DedupStore.open(region) as dedup:
        await dedup.apply([old, kept])
        await expire_all(shard, store, owner, HORIZON)
        before = await dedup.dump_digest_total()
        other_old = signed(owner, "other-old", 50, seq=3)

        refused = await dedup.apply([old, other_old])

        assert [(r.outcome, r.horizon_hlc) for r in refused] == [(Outcome.EXPIRED, HORIZON)] * 2
        assert await dedup.dump_digest_total() == before

        # Beside a record above the horizon, in one batch: only that one is written, and the
        # stream's position moves past the refused ones.
        fresh = signed(owner, "fresh", 1, seq=4)
        results = await dedup.apply([old, other_old, fresh], stream="us/n1", through_seq=4)

        assert [r.outcome for r in results] == [Outcome.EXPIRED] * 2 + [Outcome.ACCEPTED]
        assert await event_ids(shard, "dedup_events", owner) == ["fresh", "kept"]
        assert await event_ids(shard, "dedup_copies", owner) == []
        assert (await dedup.applied_positions())["us/n1"] == 4


def with_tenant_policy(settings: Settings, owner: Owner, policy: TenantPolicy) -> Settings:
    return settings.model_copy(update={"tenants": {owner.tenant_id: policy}})


async def test_legal_hold_keeps_everything_until_lifted(
    running_stack: RunningStack, region: RegionConfig, shard: Any, store: ObjectStore, owner: Owner
) -> None:
    records = [signed(owner, f"e{i}", 40 + i, seq=i + 1) for i in range(5)]
    request = ExpireBatchInput(
        tenant=owner.tenant_id, region="us", shard=0, after=START, as_of_ms=AS_OF_MS
    )
    held = TenantPolicy(retention_days=RETENTION_DAYS, legal_hold=True)
    lifted = TenantPolicy(retention_days=RETENTION_DAYS, legal_hold=False)
    async with await DedupStore.open(region) as dedup:
        await dedup.apply(records)
        resources = OneRegion(dedup, store)

        settings = running_stack.settings
        on_hold = TieringActivities(with_tenant_policy(settings, owner, held), resources)
        result = await ActivityEnvironment().run(on_hold.expire_batch, request)

        assert result.horizon_hlc is None and result.winners == 0
        assert len(await event_ids(shard, "dedup_events", owner)) == 5
        assert owner.tenant_id not in await read_horizons([shard])

        resumed = TieringActivities(with_tenant_policy(settings, owner, lifted), resources)
        result = await ActivityEnvironment().run(resumed.expire_batch, request)

        assert result.horizon_hlc == HORIZON and result.winners == 5
        assert await event_ids(shard, "dedup_events", owner) == []
        assert (await read_horizons([shard]))[owner.tenant_id] == HORIZON


async def _geo_equal(
    a: Sequence[Any], b: Sequence[Any], horizons: dict[str, int], through: int
) -> bool:
    ranges = [SeqRange(lo=1, hi=through)]
    [in_a] = await fingerprint_ranges(a, "us/n1", ranges, 8, horizons)
    [in_b] = await fingerprint_ranges(b, "us/n1", ranges, 8, horizons)
    records_a = await fetch_records(a, "us/n1", ranges, horizons)
    records_b = await fetch_records(b, "us/n1", ranges, horizons)
    return in_a == in_b and diff_records(records_a, records_b) == []


async def test_two_regions_expiring_at_different_times_converge(
    running_stack: RunningStack, store: ObjectStore, owner: Owner
) -> None:
    regions = []
    for name in ("a", "b"):
        config = await fresh_region(running_stack, f"tier_expire_{name}", shards=2)
        await migrate_region(config)
        regions.append(config)
    records = [signed(owner, f"e{i:02d}", 60 - 4 * i, seq=i + 1) for i in range(15)]
    later_ms = AS_OF_MS + 20 * DAY_MS
    later = retention_horizon(RULES, later_ms)
    assert later is not None and later > HORIZON

    async with (
        await DedupStore.open(regions[0]) as a,
        await DedupStore.open(regions[1]) as b,
    ):
        ring_a, ring_b = list(a.pools.shards), list(b.pools.shards)

        async def expire(ring: list[Any], horizon: int) -> None:
            await record_horizon(ring, owner.tenant_id, horizon, AS_OF_MS)
            for pool in ring:
                after: str | None = START
                while after is not None:
                    batch = await expire_batch(
                        pool,
                        ring,
                        store,
                        owner.tenant_id,
                        horizon,
                        after,
                        PAGE_ROWS,
                        forget_nothing,
                    )
                    after = batch.next_after

        async def horizons() -> dict[str, int]:
            return higher_horizons([await read_horizons(ring_a), await read_horizons(ring_b)])

        for dedup in (a, b):
            await dedup.apply(records, stream="us/n1", through_seq=15)
        assert await a.dump_digest_total() == await b.dump_digest_total()

        # a expires first; b has not yet: equal above a's horizon, not below it.
        await expire(ring_a, HORIZON)
        assert await horizons() == {owner.tenant_id: HORIZON}
        assert await _geo_equal(ring_a, ring_b, await horizons(), 15)
        assert not await _geo_equal(ring_a, ring_b, {}, 15)

        # b expires later, with a later clock: its horizon is the higher one now.
        await expire(ring_b, later)
        assert await _geo_equal(ring_a, ring_b, await horizons(), 15)
        # A late replay into b of what only a still held beyond b's horizon is refused there.
        replayed = await b.apply(records, stream="us/n1", through_seq=15)
        outcomes = [(r.outcome, rec.hlc < later) for r, rec in zip(replayed, records, strict=True)]
        assert {outcome for outcome, below in outcomes if below} == {Outcome.EXPIRED}
        # (re-applying a record that is its key's winner answers accepted, as it always did)
        assert {outcome for outcome, below in outcomes if not below} == {Outcome.ACCEPTED}

        # a catches up to the same cut-off: the regions are identical again.
        await expire(ring_a, later)
        assert await a.dump_digest_total() == await b.dump_digest_total()
        assert await _geo_equal(ring_a, ring_b, await horizons(), 15)
