"""A migrate worker SIGKILLed in the middle of a pass - in `make test` in each phase that moves keys
(copy, dual-write's catch-up copy, cleanup), in `make soak` in every pass (verify and re-verify
too). Each time a new worker takes the run over from the last chunk heartbeated, and the
migration ends with the region's logical state (its canonical dump) unchanged, every key on its
shard of the new ring alone, none lost or held twice."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from activities.migrate_models import MigrationProgress, PassKind, Stage
from ledger.config import Settings
from ledger.ring import shard_of
from storage.dedup import DedupStore
from tests.conftest import RunningStack
from tests.integration.reshard_support import TO_RING, dump, keys_of, populate
from tests.support.isolated import isolated_settings
from tests.support.migration import start, stored_plan, wait_for, with_shards
from tests.support.processes import ProcessGroup, start_worker
from workers.client import connect
from workflows import queues
from workflows.migration_ids import migration_workflow_id

pytestmark = pytest.mark.timeout(420)

KEYS = 600
RATE = 60.0  # keys a second
EVERY_PASS = (
    PassKind.COPY,
    PassKind.VERIFY,
    PassKind.CATCH_UP,
    PassKind.REVERIFY,
    PassKind.CLEANUP,
)
# One kill in each phase that moves keys (copy, dual-write's catch-up, cleanup) runs in
# `make test`; a kill in every pass, verifies included (a verify run starts over when retried),
# in `make soak`: each kill waits out the run's heartbeat timeout and a new worker's start.
KILLS = [
    pytest.param((PassKind.COPY, PassKind.CATCH_UP, PassKind.CLEANUP), id="moving-phases"),
    pytest.param(EVERY_PASS, id="every-pass", marks=pytest.mark.slow),
]


def mid_pass(kind: PassKind) -> Callable[[MigrationProgress], bool]:
    """In the middle of a pass of `kind`: some of its keys done."""

    def holds(progress: MigrationProgress) -> bool:
        return progress.pass_name == kind.value and progress.pass_keys > 0

    return holds


@pytest.mark.parametrize("kill_in", KILLS)
async def test_a_migrate_worker_killed_in_each_phase_resumes_and_loses_nothing(
    running_stack: RunningStack, tmp_path: Path, kill_in: tuple[PassKind, ...]
) -> None:
    settings: Settings = await with_shards(
        running_stack, await isolated_settings(running_stack, tmp_path, "migkill"), "us", TO_RING
    )
    region = settings.region("us")
    async with await DedupStore.open(region) as store:
        await populate(store, region, KEYS)
        before = await dump(region, store, store.route.read_shards)
    client = await connect(settings)
    plan = await stored_plan(settings, "us", TO_RING)
    group = ProcessGroup(tmp_path / "logs")
    try:
        worker = await start_worker(group, settings, running_stack.config_path, queues.MIGRATE)
        # Slow: each pass spans several runs and seconds, so every kill lands inside one even
        # when queries answer slowly on a busy machine (at 150 keys/s a catch-up pass of four
        # half-second runs once ended between two polls).
        await start(client, settings, plan, queues.MIGRATE, auto_approve=True, rate=RATE)
        for kind in kill_in:
            await wait_for(client, plan.id, mid_pass(kind), timeout_s=120)
            assert worker.kill() == -signal.SIGKILL
            worker = await start_worker(group, settings, running_stack.config_path, queues.MIGRATE)
        final = await client.get_workflow_handle(migration_workflow_id(plan.id)).result()
    finally:
        group.close()

    assert final["stage"] == Stage.DONE.value
    async with await DedupStore.open(region) as store:
        assert await dump(region, store, store.route.read_shards) == before
        held = [await keys_of(store.pools.shards[shard]) for shard in range(TO_RING)]
    for shard, keys in enumerate(held):
        assert all(shard_of(t, e, TO_RING) == shard for t, e in keys), shard
    assert sum(len(keys) for keys in held) == len(set().union(*held))
