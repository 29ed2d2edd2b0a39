"""DemotionWorkflow on the embedded Temporal server with the tiering queue's real activities:
a tenant's bodies in two regions (us packs on S3/moto, eu on GCS/fake-gcs-server) all end cold
and read back byte-identical, records past the tenant's retention are expired first, and
`geoledger tier schedule` creates the tenant's schedule once and then updates it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from typer.testing import CliRunner

from cli.tier import tier_app
from ledger import search_attributes
from ledger.config import Settings
from ledger.hlc import hlc_pack
from ledger.retention import DAY_MS
from ledger.tier_policy import TierPolicyOverride
from storage.dedup import DedupStore, migrate_region
from storage.objectstore import open_object_store
from storage.tiering.dictionaries import DictionaryStore
from storage.tiering.horizons import read_horizons
from storage.tiering.policy_store import set_fields
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region
from tests.integration.test_tiering_demotion import (
    AS_OF_MS,
    CACHE_SIZE,
    read_back,
    rows_of,
    signed_record,
)
from tests.support.tenants import tenant
from tests.support.tiering_worker import tiering_worker
from workers.client import connect
from workers.tier_demote import GEO_TENANT, start_demotion
from workflows.demotion import DemotionStatus, DemotionWorkflow, demotion_workflow_id

pytestmark = pytest.mark.timeout(180)

EVENTS_PER_REGION = 30
BATCH_ROWS = 4


@dataclass(frozen=True)
class Setup:
    client: Client
    task_queue: str
    settings: Settings


@pytest.fixture(scope="module")
async def setup(running_stack: RunningStack) -> AsyncIterator[Setup]:
    regions = {}
    for name, shards in (("us", 1), ("eu", 2)):
        fresh = await fresh_region(running_stack, f"tier_wf_{name}", shards=shards)
        # Each region keeps the session's object store of its name: us on S3, eu on GCS.
        regions[name] = fresh.model_copy(
            update={"object_store": running_stack.settings.region(name).object_store}
        )
        await migrate_region(regions[name])
    settings = running_stack.settings.model_copy(
        update={
            "regions": regions,
            "tier_demotion": running_stack.settings.tier_demotion.model_copy(
                update={"batch_rows": BATCH_ROWS}
            ),
        }
    )
    client = await connect(running_stack.settings)
    async with tiering_worker(client, settings) as task_queue:
        yield Setup(client, task_queue, settings)


async def test_every_body_ends_cold_and_reads_back_byte_identical(setup: Setup) -> None:
    owner = tenant(f"t-{uuid.uuid4().hex[:12]}")
    # Accepted a year before AS_OF_MS: past the default hot and warm TTLs long before the
    # demotion's clock, set far ahead.
    records = [signed_record(owner, f"evt-{n:03d}", 365) for n in range(EVENTS_PER_REGION)]
    for region in setup.settings.regions.values():
        async with await DedupStore.open(region) as dedup:
            await dedup.apply(records)

    handle = await start_demotion(setup.client, owner.tenant_id, AS_OF_MS, 0, setup.task_queue)
    status: DemotionStatus = await handle.result()

    regions = len(setup.settings.regions)
    assert status.done and status.last_error is None
    assert (status.totals.to_warm, status.totals.to_cold) == (EVENTS_PER_REGION * regions,) * 2
    assert status.totals.packs == 3  # one per shard: us has 1, eu has 2
    described = await handle.describe()
    assert described.typed_search_attributes.get(GEO_TENANT) == owner.tenant_id
    for name, region in setup.settings.regions.items():
        store = open_object_store(region.object_store)
        dictionaries = DictionaryStore(store, CACHE_SIZE)
        async with await DedupStore.open(region) as dedup:
            rows = {}
            for shard in dedup.pools.shards:
                rows |= await rows_of(shard, owner)
        assert len(rows) == EVENTS_PER_REGION, name
        for each in records:
            row = rows[each.event_id]
            assert row["body_tier"] == 2, (name, each.event_id)
            assert await read_back(row, store, dictionaries) == each.event


async def test_the_demotion_first_expires_what_is_past_retention(setup: Setup) -> None:
    owner = tenant(f"t-{uuid.uuid4().hex[:12]}")
    # Retention 380 days: the first half (400 days old) expires, the rest is demoted.
    ages = [400] * 5 + [365] * 5
    records = [
        signed_record(
            owner, f"evt-{n:03d}", age, hlc=hlc_pack(AS_OF_MS - age * DAY_MS, n), seq=n + 1
        )
        for n, age in enumerate(ages)
    ]
    for region in setup.settings.regions.values():
        async with await DedupStore.open(region) as dedup:
            await dedup.apply(records)
            await set_fields(
                dedup.pools.control, owner.tenant_id, TierPolicyOverride(retention_days=380)
            )

    handle = await start_demotion(setup.client, owner.tenant_id, AS_OF_MS, 0, setup.task_queue)
    status: DemotionStatus = await handle.result()

    regions = len(setup.settings.regions)
    assert status.done and status.last_error is None
    assert status.totals.expired == 5 * regions
    assert (status.totals.to_warm, status.totals.to_cold) == (5 * regions,) * 2
    horizon = hlc_pack(AS_OF_MS - 380 * DAY_MS)
    for name, region in setup.settings.regions.items():
        async with await DedupStore.open(region) as dedup:
            rows = {}
            for shard in dedup.pools.shards:
                rows |= await rows_of(shard, owner)
                assert (await read_horizons([shard]))[owner.tenant_id] == horizon, name
        assert sorted(rows) == [f"evt-{n:03d}" for n in range(5, 10)], name
        assert {row["body_tier"] for row in rows.values()} == {2}, name


async def test_a_throttled_demotion_pauses_and_takes_a_new_rate(setup: Setup) -> None:
    owner = tenant(f"t-{uuid.uuid4().hex[:12]}")
    records = [signed_record(owner, f"evt-{n:03d}", 365) for n in range(3 * BATCH_ROWS)]
    async with await DedupStore.open(setup.settings.region("us")) as dedup:
        await dedup.apply(records)
    # One body byte per second: after its first batch the demotion waits for minutes.
    handle = await start_demotion(setup.client, owner.tenant_id, AS_OF_MS, 1, setup.task_queue)

    async def status_when(done: Callable[[DemotionStatus], bool]) -> DemotionStatus:
        for _ in range(100):
            status: DemotionStatus = await handle.query(DemotionWorkflow.status)
            if done(status):
                return status
            await asyncio.sleep(0.1)
        raise AssertionError(f"status never got there: {status}")

    first = await status_when(lambda s: s.totals.batches == 1)
    assert (first.totals.to_warm, first.bytes_per_s, first.done) == (BATCH_ROWS, 1, False)
    await handle.signal(DemotionWorkflow.pause)
    await handle.signal(DemotionWorkflow.throttle, 0)
    paused = await status_when(lambda s: s.paused and s.bytes_per_s == 0)
    await asyncio.sleep(1)
    assert (await handle.query(DemotionWorkflow.status)).totals.batches == paused.totals.batches
    await handle.signal(DemotionWorkflow.resume)
    result: DemotionStatus = await handle.result()
    assert result.done and result.totals.to_cold == len(records)


async def test_the_schedule_is_created_then_updated(
    setup: Setup, running_stack: RunningStack
) -> None:
    owner = f"t-{uuid.uuid4().hex[:12]}"
    config = str(running_stack.config_path)
    handle = setup.client.get_schedule_handle(demotion_workflow_id(owner))

    async def invoke(*args: str) -> str:
        result = await asyncio.to_thread(
            CliRunner().invoke,
            tier_app,
            ["schedule", "--tenant", owner, *args, "--config", config],
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    try:
        assert "created" in await invoke("--task-queue", setup.task_queue)
        assert "updated" in await invoke("--every", "2h", "--task-queue", setup.task_queue)
        described = (await handle.describe()).schedule
        assert [i.every for i in described.spec.intervals] == [timedelta(hours=2)]
        assert described.policy.overlap == ScheduleOverlapPolicy.SKIP
        action = described.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.id, action.task_queue) == (
            "DemotionWorkflow",
            demotion_workflow_id(owner),
            setup.task_queue,
        )
        schedules = [s.id async for s in await setup.client.list_schedules()]
        assert schedules.count(demotion_workflow_id(owner)) == 1
        assert search_attributes.GEO_TENANT in {
            pair.key.name for pair in action.typed_search_attributes
        }
    finally:
        await handle.delete()
