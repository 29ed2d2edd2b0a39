"""One chaos test's run: the system started, Prometheus scraping it, an empty record of what was
acknowledged; and, whatever the test failed on, Prometheus stopped, the CRR workflows ended and
every process reaped."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from ledger.config import Settings
from tests.support.chaos_artifacts import ChaosArtifacts
from tests.support.chaos_prometheus import RunningPrometheus, start_prometheus
from tests.support.chaos_system import Acknowledged, ChaosSystem
from tests.support.cluster import terminate_crr
from tests.support.processes import ProcessGroup
from workers.client import connect


@dataclass
class ChaosRun:
    system: ChaosSystem
    prometheus: RunningPrometheus
    acked: Acknowledged


@contextlib.asynccontextmanager
async def chaos_run(
    settings: Settings, config_path: Path, artifacts: ChaosArtifacts, workdir: Path
) -> AsyncIterator[ChaosRun]:
    group = ProcessGroup(artifacts.logs)
    system = ChaosSystem(settings, config_path, group, artifacts)
    prometheus = None
    try:
        await system.start()
        prometheus = await start_prometheus(artifacts, system.scrape_targets(), workdir)
        yield ChaosRun(system, prometheus, Acknowledged())
    finally:
        if prometheus is not None:
            with contextlib.suppress(httpx.HTTPError):
                await prometheus.save_targets()
            prometheus.stop()
        await terminate_crr(await connect(settings), settings)
        group.close()
