"""Region kill: region us's ingest node and its shipper SIGKILLed under load (the drill in
workers/drills/region_outage.py stops them gracefully; a crash gives them no chance to finish
anything). eu keeps acknowledging, GeoRegionDown fires for us in a real Prometheus; us restarts
on the disk it kept, the alert clears, and both regions converge holding every acknowledged
event."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.conftest import RunningStack
from tests.support.chaos_artifacts import ChaosArtifacts
from tests.support.chaos_run import chaos_run
from tests.support.chaos_system import running_load, settle
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant

pytestmark = pytest.mark.timeout(300)

ACME = tenant("acme")
KILLED, SURVIVOR = "us", "eu"
# GeoRegionDown's `for:` (2m) becomes 2 s; scrapes and evaluations run every second.
FIRE_TIMEOUT_S = 30
CLEAR_TIMEOUT_S = 30
# The killed shipper's activity is retried once its heartbeat timeout (30 s) has passed.
CONVERGE_TIMEOUT_S = 120
LOAD_BEFORE_KILL_S = 2.0
REGION_DOWN = {"region": KILLED}


async def test_killed_region_fires_geo_region_down_and_restores_without_loss(
    running_stack: RunningStack, tmp_path: Path, chaos_artifacts: ChaosArtifacts
) -> None:
    settings = await isolated_settings(running_stack, tmp_path, "chaos_region")
    await register(settings, ACME)
    async with chaos_run(settings, running_stack.config_path, chaos_artifacts, tmp_path) as run:
        system, prometheus, acked = run.system, run.prometheus, run.acked
        async with running_load(system, acked, ACME, "region"):
            await asyncio.sleep(LOAD_BEFORE_KILL_S)
            assert acked.count(KILLED) > 0, acked.answers
            for process in (system.ingest[KILLED].process, system.node_workers[KILLED]):
                assert process.kill() == -signal.SIGKILL, process.log_tail()
            survivor_before = acked.count(SURVIVOR)

            await prometheus.watch.wait_firing("GeoRegionDown", REGION_DOWN, FIRE_TIMEOUT_S)
            await chaos_artifacts.snapshot_metrics("fault", system.metric_addresses())
            # The survivor kept acknowledging through the outage.
            assert acked.count(SURVIVOR) > survivor_before, acked.answers

            await system.start_ingest(KILLED)
            system.node_workers[KILLED] = await system.start_worker(system.node_queue(KILLED))
            await prometheus.watch.wait_gone("GeoRegionDown", REGION_DOWN, CLEAR_TIMEOUT_S)
            restored = acked.count(KILLED)
            await asyncio.sleep(LOAD_BEFORE_KILL_S)
            assert acked.count(KILLED) > restored, acked.answers
        assert acked.answers[f"{KILLED} unreachable"] > 0, acked.answers
        await settle(system, acked, CONVERGE_TIMEOUT_S)
