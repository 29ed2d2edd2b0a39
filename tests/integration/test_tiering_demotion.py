"""Demotion on the real stack (storage/tiering/demote.py): a tenant's signed events go hot ->
warm -> cold in batches on a real PostgreSQL shard, with packs on S3 (moto) and GCS
(fake-gcs-server), and every body reads back byte-identical through the codec, read_blob and
check_body. Rows changed mid-batch are skipped, a finished batch re-run changes nothing, and a
stop between a durable pack and the rows' UPDATE loses nothing and writes no second pack."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from ledger.cold_location import ColdLocation
from ledger.config import RegionConfig
from ledger.demotion_batch import DemotionBatch
from ledger.event_wire import parse_signed_event
from ledger.signing import content_digest
from ledger.tier_policy import TierPolicy
from storage.dedup import DedupRecord, DedupStore
from storage.objectstore import ObjectStore
from storage.tiering import demote as demote_module
from storage.tiering.body_check import check_body
from storage.tiering.codec import decode, required_dictionary
from storage.tiering.demote import (
    CRASH_AFTER_PACK_WRITTEN,
    DAY_MS,
    demote_to_cold,
    demote_to_warm,
)
from storage.tiering.demotion_rows import START
from storage.tiering.dictionaries import Dictionary, DictionaryStore, train_dictionary
from storage.tiering.errors import BodyIntegrityError
from storage.tiering.pack_reader import read_blob
from tests.conftest import RunningStack
from tests.integration.objectstore_support import open_fresh_store
from tests.integration.test_dedup_helpers import record
from tests.integration.tiering_support import one_shard_region, shard_pool
from tests.support.tenants import TestTenant as Owner
from tests.support.tenants import tenant

pytestmark = pytest.mark.timeout(180)

AS_OF_MS = 1_800_000_000_000
HOT_TTL_DAYS, WARM_TTL_DAYS = 7, 30
PAGE_ROWS = 7
PACK_TARGET_BYTES = 6000
MAX_BODY_BYTES = 64 * 1024
CACHE_SIZE = 4


@pytest.fixture(scope="module")
async def region(running_stack: RunningStack) -> RegionConfig:
    return await one_shard_region(running_stack, "tier_demote")


@pytest.fixture
async def shard(region: RegionConfig) -> AsyncIterator[Any]:
    async with shard_pool(region) as pool:
        yield pool


@pytest.fixture(scope="module", params=["s3", "gcs"])
def store(
    request: pytest.FixtureRequest,
    running_stack: RunningStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> ObjectStore:
    return open_fresh_store(str(request.param), running_stack, tmp_path_factory.mktemp("demote"))


@pytest.fixture
def owner() -> Owner:
    """A tenant of the test's own: its rows and packs are nobody else's."""
    return tenant(f"t-{uuid.uuid4().hex[:12]}")


def signed_record(
    owner: Owner, event_id: str, age_days: float, *, hlc: int = 100, seq: int = 1
) -> DedupRecord:
    """The record of a real signed event accepted `age_days` before AS_OF_MS."""
    payload = {"order": event_id, "sku": f"sku-{len(event_id) % 5}", "note": "standard order"}
    signed = parse_signed_event(owner.event(event_id, payload))
    return DedupRecord(
        tenant_id=owner.tenant_id,
        event_id=event_id,
        hlc=hlc,
        region="us",
        node="n1",
        seq=seq,
        digest=content_digest(signed),
        event=signed.canonical_event(),
        accepted_at_ms=AS_OF_MS - int(age_days * DAY_MS),
    )


async def no_record(tenant: str, pack_id: str, bodies_by_dictionary: Mapping[str, int]) -> None:
    """Packs' dictionaries are recorded in the control database by the activity
    (tests/integration/test_tier_dictionaries.py); this shard-only test has none."""


def policy(compression: bool = True, dictionary: bool = False) -> TierPolicy:
    return TierPolicy(
        hot_ttl_days=HOT_TTL_DAYS,
        warm_ttl_days=WARM_TTL_DAYS,
        compression=compression,
        dictionary=dictionary,
    )


async def apply(region: RegionConfig, records: list[DedupRecord]) -> None:
    async with await DedupStore.open(region) as dedup:
        await dedup.apply(records)


async def to_warm(
    shard: Any, owner: Owner, rules: TierPolicy, dictionary: Dictionary | None = None
) -> list[DemotionBatch]:
    """Every hot -> warm batch of the tenant's walk, from the start until none is left."""
    batches, after = [], START
    while True:
        batch = await demote_to_warm(
            shard, owner.tenant_id, rules, dictionary, AS_OF_MS, after, PAGE_ROWS
        )
        batches.append(batch)
        if batch.next_after is None:
            return batches
        after = batch.next_after


async def cold_batch(
    shard: Any, store: ObjectStore, owner: Owner, after: str, rules: TierPolicy
) -> DemotionBatch:
    return await demote_to_cold(
        shard,
        store,
        DictionaryStore(store, CACHE_SIZE),
        owner.tenant_id,
        rules,
        AS_OF_MS,
        after,
        page_rows=PAGE_ROWS,
        pack_target_bytes=PACK_TARGET_BYTES,
        max_body_bytes=MAX_BODY_BYTES,
        record_pack=no_record,
    )


async def to_cold(
    shard: Any, store: ObjectStore, owner: Owner, rules: TierPolicy
) -> list[DemotionBatch]:
    batches, after = [], START
    while True:
        batch = await cold_batch(shard, store, owner, after, rules)
        batches.append(batch)
        if batch.next_after is None:
            return batches
        after = batch.next_after


async def rows_of(shard: Any, owner: Owner) -> dict[str, dict[str, Any]]:
    rows = await shard.fetch(
        "SELECT * FROM dedup_events WHERE tenant_id = $1 ORDER BY event_id", owner.tenant_id
    )
    return {row["event_id"]: dict(row) for row in rows}


async def read_back(
    row: dict[str, Any], store: ObjectStore, dictionaries: DictionaryStore
) -> bytes:
    """The row's body from its tier, checked as every reader must (check_body)."""
    tenant_id, event_id = row["tenant_id"], row["event_id"]
    if row["body_tier"] == 0:
        body = bytes(row["event"])
    else:
        if row["body_tier"] == 1:
            blob = bytes(row["warm_body"])
        else:
            location = ColdLocation(
                pack_id=row["cold_pack_id"],
                offset=row["cold_offset"],
                length=row["cold_length"],
                sha256=bytes(row["cold_sha256"]).hex(),
            )
            blob = await read_blob(store, tenant_id, location)
        dict_id = required_dictionary(blob)
        needed = {} if dict_id is None else {dict_id: await dictionaries.load(tenant_id, dict_id)}
        body = decode(blob, needed, MAX_BODY_BYTES)
    check_body(tenant_id, event_id, body, bytes(row["digest"]))
    return body


async def pack_keys(store: ObjectStore, owner: Owner) -> list[str]:
    return [info.key async for info in store.list(prefix=f"tiering/packs/{owner.tenant_id}/")]


@pytest.mark.parametrize(
    ("compression", "with_dictionary"),
    [(False, False), (True, False), (True, True)],
    ids=["raw", "zstd", "zstd-dictionary"],
)
async def test_bodies_go_hot_warm_cold_and_read_back_byte_identical(
    region: RegionConfig,
    shard: Any,
    store: ObjectStore,
    owner: Owner,
    compression: bool,
    with_dictionary: bool,
) -> None:
    ages = {"old": WARM_TTL_DAYS + 1, "mid": HOT_TTL_DAYS + 1, "new": HOT_TTL_DAYS - 1}
    records = [
        signed_record(owner, f"{label}-{n:03d}", age)
        for label, age in ages.items()
        for n in range(40)
    ]
    await apply(region, records)
    dictionaries = DictionaryStore(store, CACHE_SIZE)
    dictionary = None
    if with_dictionary:
        dictionary = train_dictionary([r.event for r in records * 4], 2048)
        await dictionaries.save(owner.tenant_id, dictionary)
    rules = policy(compression, with_dictionary)

    warm = await to_warm(shard, owner, rules, dictionary)
    assert sum(b.moved for b in warm) == 80 and sum(b.skipped for b in warm) == 0
    # Signed events of a few hundred bytes shrink under zstd; stored raw only without it.
    assert sum(b.bytes_out < b.bytes_in for b in warm if b.read) == (
        len([b for b in warm if b.read]) if compression else 0
    )
    cold = await to_cold(shard, store, owner, rules)
    assert sum(b.moved for b in cold) == 40
    packs = {b.pack_id for b in cold if b.pack_id}
    assert len(packs) > 1  # the target size closes packs: one batch is one pack
    assert sorted(await pack_keys(store, owner)) == sorted(
        f"tiering/packs/{owner.tenant_id}/{pack}.pack" for pack in packs
    )

    rows = await rows_of(shard, owner)
    codec = 0x02 if with_dictionary else 0x01 if compression else 0x00
    assert {bytes(rows[f"mid-{n:03d}"]["warm_body"])[0] for n in range(40)} == {codec}
    tiers = {event_id: row["body_tier"] for event_id, row in rows.items()}
    assert tiers == {r.event_id: {"old": 2, "mid": 1, "new": 0}[r.event_id[:3]] for r in records}
    for each in records:
        assert await read_back(rows[each.event_id], store, dictionaries) == each.event


async def test_a_row_whose_winner_changed_mid_batch_is_skipped(
    region: RegionConfig, shard: Any, store: ObjectStore, owner: Owner
) -> None:
    old = WARM_TTL_DAYS + 1
    await apply(region, [signed_record(owner, f"evt-{n}", old, hlc=100) for n in range(3)])
    displacing = signed_record(owner, "evt-1", old, hlc=50, seq=9)

    class DisplacedAfterRead:
        """The shard, where an earlier record of evt-1 arrives right after the batch's read."""

        def __init__(self) -> None:
            self.reads = 0

        async def fetch(self, query: str, *args: Any) -> Any:
            rows = await shard.fetch(query, *args)
            if query.lstrip().startswith("SELECT") and self.reads == 0:
                self.reads += 1
                await apply(region, [displacing])
            return rows

    warm = await demote_to_warm(
        DisplacedAfterRead(), owner.tenant_id, policy(), None, AS_OF_MS, START, PAGE_ROWS
    )
    assert (warm.read, warm.moved, warm.skipped) == (3, 2, 1)
    rows = await rows_of(shard, owner)
    assert (rows["evt-1"]["body_tier"], rows["evt-1"]["seq"]) == (0, 9)
    assert bytes(rows["evt-1"]["event"]) == displacing.event

    later = signed_record(owner, "evt-2", old, hlc=20, seq=11)
    displacing = later
    cold = await demote_to_cold(
        DisplacedAfterRead(),
        store,
        DictionaryStore(store, CACHE_SIZE),
        owner.tenant_id,
        policy(),
        AS_OF_MS,
        START,
        page_rows=PAGE_ROWS,
        pack_target_bytes=PACK_TARGET_BYTES,
        max_body_bytes=MAX_BODY_BYTES,
        record_pack=no_record,
    )
    assert (cold.read, cold.moved, cold.skipped) == (2, 1, 1)
    rows = await rows_of(shard, owner)
    assert [rows[e]["body_tier"] for e in ("evt-0", "evt-1", "evt-2")] == [2, 0, 0]
    assert bytes(rows["evt-2"]["event"]) == later.event


async def test_a_finished_batch_run_again_changes_nothing(
    region: RegionConfig, shard: Any, store: ObjectStore, owner: Owner
) -> None:
    await apply(region, [signed_record(owner, f"evt-{n:02d}", WARM_TTL_DAYS + 1) for n in range(9)])
    warm = await to_warm(shard, owner, policy())
    assert [b.moved for b in warm] == [PAGE_ROWS, 9 - PAGE_ROWS]
    checkpoints = [START, *(b.next_after for b in warm if b.next_after)]
    before = await rows_of(shard, owner)
    for after in checkpoints:
        again = await demote_to_warm(
            shard, owner.tenant_id, policy(), None, AS_OF_MS, after, PAGE_ROWS
        )
        assert (again.read, again.moved, again.next_after) == (0, 0, None)
    assert await rows_of(shard, owner) == before

    [cold] = await to_cold(shard, store, owner, policy())
    assert cold.moved == 9
    before_cold = (await rows_of(shard, owner), await pack_keys(store, owner))
    again = await cold_batch(shard, store, owner, START, policy())
    assert (again.read, again.pack_id, again.next_after) == (0, None, None)
    assert (await rows_of(shard, owner), await pack_keys(store, owner)) == before_cold


async def test_a_hot_body_that_is_not_its_signed_event_stops_the_batch(
    region: RegionConfig, shard: Any, owner: Owner
) -> None:
    forged = record("forged", hlc=1, tenant_id=owner.tenant_id, accepted_at_ms=0)
    await apply(region, [forged])
    with pytest.raises(BodyIntegrityError, match="forged"):
        await demote_to_warm(shard, owner.tenant_id, policy(), None, AS_OF_MS, START, PAGE_ROWS)
    assert (await rows_of(shard, owner))["forged"]["body_tier"] == 0


async def test_a_stop_between_the_durable_pack_and_the_update_loses_and_doubles_nothing(
    region: RegionConfig,
    shard: Any,
    store: ObjectStore,
    owner: Owner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [signed_record(owner, f"evt-{n}", WARM_TTL_DAYS + 1) for n in range(5)]
    await apply(region, records)
    await to_warm(shard, owner, policy())

    def stop_at(name: str) -> None:
        # In process, the state a SIGKILL at this crash point leaves behind.
        if name == CRASH_AFTER_PACK_WRITTEN:
            raise SystemExit(name)

    monkeypatch.setattr(demote_module, "crash_point", stop_at)
    with pytest.raises(SystemExit):
        await cold_batch(shard, store, owner, START, policy())
    [written] = await pack_keys(store, owner)
    rows = await rows_of(shard, owner)
    assert {row["body_tier"] for row in rows.values()} == {1}

    monkeypatch.undo()
    retried = await cold_batch(shard, store, owner, START, policy())
    assert retried.moved == 5
    assert await pack_keys(store, owner) == [written]
    assert written.endswith(f"/{retried.pack_id}.pack")
    rows = await rows_of(shard, owner)
    dictionaries = DictionaryStore(store, CACHE_SIZE)
    for each in records:
        assert rows[each.event_id]["body_tier"] == 2
        assert await read_back(rows[each.event_id], store, dictionaries) == each.event
