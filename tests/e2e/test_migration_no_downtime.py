"""No downtime, proven: both regions ingest without pause and replicate both ways (CRR) through a
whole re-sharding that grows us's ring from 2 to 4 shards, with the cutover approved by update
and the cleanup by signal while the load goes on.

Asserted: not one ingest fails; every new event is answered `accepted` and every event sent
again is answered `duplicate`, in every phase (a 100 % dedup hit ratio); no key is lost or
doubled (both regions hold exactly the events sent, and their canonical dumps are byte-identical,
so us's logical state does not depend on its ring size); the geo-divergence check finds nothing
while us waits for each approval and at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from activities.migrate_models import Stage
from ledger.config import Settings
from storage.dedup.routing import Phase
from storage.dedup.store import DedupStore
from tests.conftest import RunningStack
from tests.e2e.test_crr_two_regions import wait_converged
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings
from tests.support.migration import at, migrate_worker, start, stored_plan, wait_for, with_shards
from tests.support.tenants import register, tenant
from workers.crr_control import start_crr
from workers.geo_check import run_geo_check
from workers.migrate_control import ControlRefused, control_migration, migration_progress
from workflows.migration_ids import migration_workflow_id

pytestmark = pytest.mark.timeout(420)

ACME = tenant("acme")
PRELOAD = 600
BATCH_NEW, BATCH_AGAIN = 6, 3
MOVING_PHASES = (Stage.COPY, Stage.VERIFY, Stage.DUAL_WRITE)
PHASES = (*MOVING_PHASES, Stage.CUTOVER, Stage.CLEANUP)  # the last two wait for approvals too
# Keys a second the migration moves or checks. At a steady 400 a verify pass once ended between
# two load rounds; at a steady 200 the test takes three times as long.
SLOW_RATE, FAST_RATE = 150.0, 2_000.0


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    base = await isolated_settings(running_stack, tmp_path, "nodown")
    grown = await with_shards(running_stack, base, "us", 4)
    await register(grown, ACME)
    return grown


class Load:
    """Continuous ingest into both regions: each round, new events and events already accepted
    by the same region sent again; every answer is kept with the phase us was in."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.stage = Stage.PLAN
        self.sent: dict[str, list[dict[str, object]]] = {"us": [], "eu": []}
        self.answers: Counter[tuple[Stage, str, str]] = Counter()
        self.failures: list[str] = []
        self.last_seq: dict[str, int] = defaultdict(int)
        self._ids = itertools.count()
        self.stopping = asyncio.Event()

    async def round(self, region: str) -> None:
        fresh = [ACME.event(f"{region}-{next(self._ids)}", {"n": 1}) for _ in range(BATCH_NEW)]
        again = self.sent[region][-40:][::13][:BATCH_AGAIN]
        stage = self.stage
        try:
            results = await self.cluster.post(region, fresh + again)
        except AssertionError as exc:
            self.failures.append(f"{region} in {stage}: {exc}")
            return
        for i, result in enumerate(results):
            expected = "accepted" if i < len(fresh) else "duplicate"
            self.answers[(stage, expected, result["status"])] += 1
            if "seq" in result:
                stream = f"{region}/n1"
                self.last_seq[stream] = max(self.last_seq[stream], result["seq"])
        self.sent[region].extend(fresh)

    async def run(self) -> None:
        """Round after round until `stopping` is set; a round in flight finishes, so every event
        sent is counted."""
        while not self.stopping.is_set():
            await asyncio.gather(self.round("us"), self.round("eu"))
            await asyncio.sleep(0.05)


def seen_both_answers(load: Load, stage: Stage) -> bool:
    return all(load.answers[(stage, kind, kind)] > 0 for kind in ("accepted", "duplicate"))


async def follow_stage(load: Load, cluster: Cluster, plan_id: str) -> None:
    """Keep `load.stage` current, and pace the migration: slow (SLOW_RATE) until the load has
    been answered in each phase that moves keys, so each of them lasts a few rounds even on a
    busy machine, then fast (FAST_RATE) so the test stays short. (A new rate takes effect at the
    next bounded run, so slowing down on entering a phase would be too late for a short one.)"""
    rate = SLOW_RATE
    while True:
        load.stage = (await migration_progress(cluster.client, plan_id)).stage
        paced = all(seen_both_answers(load, stage) for stage in MOVING_PHASES)
        wanted = FAST_RATE if paced else SLOW_RATE
        if wanted != rate:
            with contextlib.suppress(ControlRefused):  # ended meanwhile
                await control_migration(cluster.client, plan_id, "set_rate", wanted)
            rate = wanted
        await asyncio.sleep(0.1)


async def test_growing_a_ring_under_load_fails_no_write_and_loses_nothing(
    settings: Settings,
) -> None:
    async with running_cluster(settings) as cluster:
        preload = [ACME.event(f"pre-{i}", {"i": i}) for i in range(PRELOAD)]
        for region in ("us", "eu"):
            for start_at in range(0, PRELOAD, 200):
                await cluster.post(region, preload[start_at : start_at + 200])
        await start_crr(cluster.client, settings)
        plan = await stored_plan(settings, "us", 4)
        load = Load(cluster)
        load.sent = {"us": list(preload), "eu": list(preload)}
        loading = asyncio.create_task(load.run())
        tasks: list[asyncio.Task[None]] = []
        async with migrate_worker(cluster.client, settings) as queue:
            await start(cluster.client, settings, plan, queue, rate=SLOW_RATE)
            tasks.append(asyncio.create_task(follow_stage(load, cluster, plan.id)))
            try:
                await wait_for(cluster.client, plan.id, at(Stage.CUTOVER, waiting="approval"))
                await asyncio.sleep(1.0)
                assert (await run_geo_check(cluster.client)).differing_keys == 0
                await control_migration(cluster.client, plan.id, "approve_cutover")
                await wait_for(cluster.client, plan.id, at(Stage.CLEANUP, waiting="approval"))
                await asyncio.sleep(1.0)
                assert (await run_geo_check(cluster.client)).differing_keys == 0
                handle = cluster.client.get_workflow_handle(migration_workflow_id(plan.id))
                await handle.signal("approve_cleanup")
                final = await handle.result()
                await asyncio.sleep(1.0)  # some load on the new ring alone
            finally:
                load.stopping.set()
                await loading
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        assert final["stage"] == Stage.DONE.value
        assert load.failures == []
        wrong = {k: n for k, n in load.answers.items() if k[1] != k[2]}
        assert wrong == {}, f"answers not as expected (phase, expected, got): {wrong}"
        for stage in PHASES:
            assert seen_both_answers(load, stage), stage

        await wait_converged(settings, dict(load.last_seq), timeout_s=120)
        unique = {(e["tenant_id"], e["event_id"]) for r in load.sent.values() for e in r}
        digests = {}
        for region in ("us", "eu"):
            async with await DedupStore.open(settings.region(region)) as store:
                assert await store.count_events() == len(unique), region
                digests[region] = await store.dump_digest_total()
                if region == "us":
                    assert (store.route.phase, store.route.ring_size) == (Phase.STABLE, 4)
        assert digests["us"] == digests["eu"]
        assert (await run_geo_check(cluster.client)).differing_keys == 0
