"""DedupMigrationWorkflow on the real Temporal dev server and real PostgreSQL, a 2 -> 4 ring with
bodies in all three tiers, duplicates and conflicts (tests/integration/reshard_support.py):

- a whole migration, steered as an operator would: an approval sent too early is rejected with
  the reason, the cutover approved by update and the cleanup by signal; the region's logical
  state (its canonical dump) is the same before and after, every key is on its 4-ring shard only,
  the plan ends `done`, and a rollback after the end is refused;
- a rollback from each phase before cleanup leaves the original shards' dump byte for byte as it
  was and the new shards empty (no key, no position);
- a rollback once cleanup has begun is refused with the reason, and the migration finishes.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from activities.migrate_models import Stage
from ledger.config import Settings
from ledger.migration_plan import PlanState
from ledger.ring import shard_of
from storage.dedup import DedupStore
from storage.dedup.plan_store import fetch_plan
from storage.dedup.routing import Phase, read_current_route
from tests.conftest import RunningStack
from tests.integration.reshard_support import FROM_RING, TO_RING, dump, keys_of, populate
from tests.support.isolated import isolated_settings
from tests.support.migration import at, migrate_worker, start, stored_plan, wait_for, with_shards
from workers.client import connect
from workers.migrate_control import ControlRefused, control_migration
from workflows.migration_ids import migration_workflow_id

pytestmark = pytest.mark.timeout(300)

KEYS = 600
REGION = "us"


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    base = await isolated_settings(running_stack, tmp_path, "mig")
    return await with_shards(running_stack, base, REGION, TO_RING)


@pytest.fixture
async def client(settings: Settings) -> Client:
    return await connect(settings)


async def populated(settings: Settings) -> tuple[str, str]:
    """Fill the region; return the dump of its ring and of the whole region."""
    region = settings.region(REGION)
    async with await DedupStore.open(region) as store:
        await populate(store, region, KEYS)
        return await dump(region, store, range(FROM_RING)), await dump(
            region, store, store.route.read_shards
        )


async def route_of(settings: Settings) -> tuple[int, str, int]:
    conn = await asyncpg.connect(settings.region(REGION).control_dsn)
    try:
        route = await read_current_route(conn)
    finally:
        await conn.close()
    return route.epoch, route.phase.value, route.ring_size


async def plan_state(settings: Settings, plan_id: str) -> PlanState:
    conn = await asyncpg.connect(settings.region(REGION).control_dsn)
    try:
        plan = await fetch_plan(conn, plan_id)
    finally:
        await conn.close()
    assert plan is not None
    return plan.state


async def test_a_whole_migration_keeps_the_logical_state_and_places_every_key(
    settings: Settings, client: Client
) -> None:
    _, before = await populated(settings)
    plan = await stored_plan(settings, REGION, TO_RING)
    async with migrate_worker(client, settings) as queue:
        await start(client, settings, plan, queue, rate=500)
        await wait_for(client, plan.id, lambda p: p.stage is Stage.COPY)
        with pytest.raises(ControlRefused, match="cutover can be approved once"):
            await control_migration(client, plan.id, "approve_cutover")
        with pytest.raises(ControlRefused, match="once the cutover is done"):
            await control_migration(client, plan.id, "approve_cleanup")
        # The same approval sent as a signal (the web UI) changes nothing and says why.
        handle = client.get_workflow_handle(migration_workflow_id(plan.id))
        await handle.signal("approve_cutover")
        refused = await wait_for(client, plan.id, lambda p: p.refused is not None)
        assert "cutover can be approved once" in (refused.refused or "")

        waiting = await wait_for(client, plan.id, at(Stage.CUTOVER, waiting="cutover approval"))
        assert (waiting.mismatches, waiting.behind) == (0, 0)
        assert waiting.keys_copied >= plan.total_keys
        assert await route_of(settings) == (waiting.route_epoch, Phase.DUAL_WRITE.value, FROM_RING)
        answer = await control_migration(client, plan.id, "approve_cutover")
        assert answer.accepted

        await wait_for(client, plan.id, at(Stage.CLEANUP, waiting="cleanup approval"))
        epoch, phase, _ = await route_of(settings)
        assert phase == Phase.CUTOVER.value
        await handle.signal("approve_cleanup")
        final = await handle.result()

    assert final["stage"] == Stage.DONE.value
    assert final["keys_cleaned"] >= plan.total_keys
    new_epoch, phase, ring = await route_of(settings)
    assert (phase, ring) == (Phase.STABLE.value, TO_RING) and new_epoch > epoch
    assert await plan_state(settings, plan.id) is PlanState.DONE
    region = settings.region(REGION)
    async with await DedupStore.open(region) as store:
        assert await dump(region, store, store.route.read_shards) == before
        for shard in range(TO_RING):
            held = await keys_of(store.pools.shards[shard])
            assert held and all(shard_of(t, e, TO_RING) == shard for t, e in held), shard
    with pytest.raises(ControlRefused, match="is done: it has ended, nothing to rollback"):
        await control_migration(client, plan.id, "rollback")


ROLLBACK_POINTS = {
    "copy": at(Stage.COPY),
    "verify": at(Stage.VERIFY),
    "dual_write": at(Stage.DUAL_WRITE),
    "cutover": at(Stage.CUTOVER, waiting="cutover approval"),
    "cleanup_wait": at(Stage.CLEANUP, waiting="cleanup approval"),
}


@pytest.mark.parametrize("point", list(ROLLBACK_POINTS))
async def test_a_rollback_restores_the_original_shards_byte_for_byte(
    settings: Settings, client: Client, point: str
) -> None:
    ring_dump, _ = await populated(settings)
    epoch_before, _, _ = await route_of(settings)
    plan = await stored_plan(settings, REGION, TO_RING)
    # Slow enough that each pass lasts seconds (a rollback lands in the phase it is sent in),
    # quick where the phase is a wait for an approval anyway.
    rate = 100 if point in ("copy", "verify", "dual_write") else 2_000
    async with migrate_worker(client, settings) as queue:
        await start(client, settings, plan, queue, rate=rate)
        if point == "cleanup_wait":
            await wait_for(client, plan.id, ROLLBACK_POINTS["cutover"])
            await control_migration(client, plan.id, "approve_cutover")
        await wait_for(client, plan.id, ROLLBACK_POINTS[point])
        answer = await control_migration(client, plan.id, "rollback")
        assert answer.accepted
        final = await client.get_workflow_handle(migration_workflow_id(plan.id)).result()

    assert final["stage"] == Stage.ROLLED_BACK.value
    epoch, phase, ring = await route_of(settings)
    assert (phase, ring) == (Phase.STABLE.value, FROM_RING) and epoch > epoch_before
    assert await plan_state(settings, plan.id) is PlanState.ROLLED_BACK
    region = settings.region(REGION)
    async with await DedupStore.open(region) as store:
        assert await dump(region, store, range(FROM_RING)) == ring_dump
        for shard in range(FROM_RING, TO_RING):
            pool = store.pools.shards[shard]
            assert await keys_of(pool) == set(), shard
            assert await pool.fetchval("SELECT count(*) FROM applied_positions") == 0


async def test_a_rollback_once_cleanup_began_is_refused_and_the_migration_finishes(
    settings: Settings, client: Client
) -> None:
    await populated(settings)
    plan = await stored_plan(settings, REGION, TO_RING)
    async with migrate_worker(client, settings) as queue:
        # Slow enough that the cleanup (284 keys) outlasts a few polls of a loaded machine.
        await start(client, settings, plan, queue, auto_approve=True, rate=100)
        await wait_for(client, plan.id, lambda p: p.route_phase == Phase.CLEANUP.value)
        with pytest.raises(ControlRefused, match="no longer complete"):
            await control_migration(client, plan.id, "rollback")
        await control_migration(client, plan.id, "set_rate", 50_000)
        final = await client.get_workflow_handle(migration_workflow_id(plan.id)).result()
    assert final["stage"] == Stage.DONE.value
