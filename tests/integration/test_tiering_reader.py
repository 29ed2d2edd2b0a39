"""The tiered reader on the real stack (PostgreSQL, moto S3 and fake-gcs-server): a real signed
event reads back byte-identical from hot, warm and cold; promote_on_read moves it back to hot
(counted) and nothing else does; every damaged body is a TieredReadError naming the key and
where its bytes are (cold ones counted by reason), never another body."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from ledger.config import RegionConfig
from ledger.tier_policy import TierPolicy
from storage.dedup import DedupRecord, DedupStore
from storage.objectstore import ObjectStore
from storage.tiering.body_row import BODY_COLUMNS, BodyRow
from storage.tiering.dictionaries import DictionaryStore
from storage.tiering.packs import pack_key
from storage.tiering.read_errors import TieredReadError
from storage.tiering.reader import TieredBodies
from storage.tiering.tenant_policies import TenantPolicies
from tests.conftest import RunningStack
from tests.integration.objectstore_support import open_fresh_store
from tests.integration.tiering_support import (
    make_cold,
    make_warm,
    one_shard_region,
    shard_pool,
    signed_record,
    tier_of,
)
from tests.support.tenants import tenant

pytestmark = pytest.mark.timeout(120)

SELECT_ROW = f"""
SELECT tenant_id, event_id, region, node, seq, digest, {BODY_COLUMNS}
FROM dedup_events WHERE tenant_id = $1 AND event_id = $2
"""


@pytest.fixture(scope="module")
async def region(running_stack: RunningStack) -> RegionConfig:
    return await one_shard_region(running_stack, "tier_read")


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
    return open_fresh_store(str(request.param), running_stack, tmp_path_factory.mktemp("reads"))


Reader = Callable[[bool], Awaitable[TieredBodies]]


@pytest.fixture
async def reader(region: RegionConfig, store: ObjectStore) -> AsyncIterator[Reader]:
    pools: list[Any] = []

    async def open_reader(promote_on_read: bool) -> TieredBodies:
        control = await asyncpg.create_pool(region.control_dsn, min_size=1, max_size=1)
        pools.append(control)
        policies = TenantPolicies(TierPolicy(promote_on_read=promote_on_read), {}, control)
        return TieredBodies(store, DictionaryStore(store, 4), policies, 1024 * 1024, 60)

    yield open_reader
    for pool in pools:
        await pool.close()


async def applied(region: RegionConfig, count: int) -> list[DedupRecord]:
    """`count` real signed records of a tenant of the test's own, applied hot."""
    owner = tenant(f"t-{uuid.uuid4().hex[:10]}")
    records = [signed_record(owner, f"evt-{n}", seq=n) for n in range(1, count + 1)]
    async with await DedupStore.open(region) as dedup:
        await dedup.apply(records)
    return records


async def row_of(shard: Any, record: DedupRecord) -> BodyRow:
    return BodyRow.from_record(await shard.fetchrow(SELECT_ROW, record.tenant_id, record.event_id))


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("promote_on_read", [False, True])
async def test_every_tier_reads_back_the_applied_bytes(
    region: RegionConfig, shard: Any, store: ObjectStore, reader: Reader, promote_on_read: bool
) -> None:
    hot, warm, cold, cold_too = await applied(region, 4)
    await make_warm(shard, warm)
    await make_cold(shard, store, [cold, cold_too])
    bodies = await reader(promote_on_read)
    promoted = {t: sample("tier_promotions_total", {"from": t}) for t in ("warm", "cold")}
    timed = {t: sample("tier_read_seconds_count", {"tier": t}) for t in ("hot", "warm", "cold")}

    for record in (hot, warm, cold, cold_too):
        assert await bodies.read(shard, await row_of(shard, record)) == record.event

    tiers = [await tier_of(shard, r) for r in (hot, warm, cold, cold_too)]
    assert tiers == ([0, 0, 0, 0] if promote_on_read else [0, 1, 2, 2])
    assert {t: sample("tier_promotions_total", {"from": t}) - promoted[t] for t in promoted} == (
        {"warm": 1, "cold": 2} if promote_on_read else {"warm": 0, "cold": 0}
    )
    assert {t: sample("tier_read_seconds_count", {"tier": t}) - timed[t] for t in timed} == {
        "hot": 1,
        "warm": 1,
        "cold": 2,
    }
    # Promoted or not, the next read gives the same bytes.
    for record in (warm, cold):
        assert await bodies.read(shard, await row_of(shard, record)) == record.event


async def test_a_promotion_never_overwrites_a_row_that_moved(
    region: RegionConfig, shard: Any, reader: Reader
) -> None:
    [record] = await applied(region, 1)
    await make_warm(shard, record)
    row = await row_of(shard, record)
    # The body went back hot (another reader) and warm again with another blob in between.
    await shard.execute(
        "UPDATE dedup_events SET body_tier = 0, event = $3, warm_body = NULL "
        "WHERE tenant_id = $1 AND event_id = $2",
        record.tenant_id,
        record.event_id,
        record.event,
    )
    bodies = await reader(True)
    assert await bodies.read(shard, row) == record.event
    assert await tier_of(shard, record) == 0  # what the other reader left; no error either


async def flip_warm_byte(shard: Any, store: ObjectStore, record: DedupRecord) -> None:
    blob = bytearray(await make_warm(shard, record))
    blob[len(blob) // 2] ^= 0x01
    await shard.execute(
        "UPDATE dedup_events SET warm_body = $3 WHERE tenant_id = $1 AND event_id = $2",
        record.tenant_id,
        record.event_id,
        bytes(blob),
    )


async def warm_raw_other_body(shard: Any, store: ObjectStore, record: DedupRecord) -> None:
    other = signed_record(tenant(record.tenant_id), record.event_id, seq=99, note="other")
    await make_warm(shard, record)
    await shard.execute(
        "UPDATE dedup_events SET warm_body = $3 WHERE tenant_id = $1 AND event_id = $2",
        record.tenant_id,
        record.event_id,
        b"\x00" + other.event,
    )


async def flip_pack_byte(shard: Any, store: ObjectStore, record: DedupRecord) -> None:
    pack_id = await make_cold(shard, store, [record])
    key = pack_key(record.tenant_id, pack_id)
    data = bytearray(await store.get(key))
    data[20] ^= 0x01  # inside the only blob: the header is 12 bytes
    await store.put(key, bytes(data))


async def delete_pack(shard: Any, store: ObjectStore, record: DedupRecord) -> None:
    pack_id = await make_cold(shard, store, [record])
    await store.delete(pack_key(record.tenant_id, pack_id))


# (case, damage, tier, reason, a part of the message); cold reasons are also counted.
DAMAGE = [
    ("warm frame byte flipped", flip_warm_byte, "warm", "decode", "warm_body"),
    ("warm blob of another body", warm_raw_other_body, "warm", "integrity", "content digest"),
    ("pack byte flipped", flip_pack_byte, "cold", "corrupt", "expected sha256"),
    ("pack deleted", delete_pack, "cold", "not_found", "no object under the pack's key"),
]


@pytest.mark.parametrize(
    ("case", "damage", "tier", "reason", "detail"), DAMAGE, ids=[d[0] for d in DAMAGE]
)
async def test_a_damaged_body_is_an_error_naming_the_key_and_the_store(
    region: RegionConfig,
    shard: Any,
    store: ObjectStore,
    reader: Reader,
    case: str,
    damage: Callable[[Any, ObjectStore, DedupRecord], Awaitable[None]],
    tier: str,
    reason: str,
    detail: str,
) -> None:
    [record] = await applied(region, 1)
    await damage(shard, store, record)
    bodies = await reader(True)
    counted = sample("cold_driver_errors_total", {"op": "read", "reason": reason})

    with pytest.raises(TieredReadError) as raised:
        await bodies.read(shard, await row_of(shard, record))

    error = raised.value
    assert (error.tenant_id, error.event_id, error.tier, error.reason) == (
        record.tenant_id,
        record.event_id,
        tier,
        reason,
    )
    assert f"{record.tenant_id}/{record.event_id}" in str(error)
    assert detail in str(error)
    if tier == "cold":
        assert store.describe() in str(error)
    growth = sample("cold_driver_errors_total", {"op": "read", "reason": reason}) - counted
    assert growth == (1 if tier == "cold" else 0)
    assert await tier_of(shard, record) == (1 if tier == "warm" else 2)  # nothing promoted
