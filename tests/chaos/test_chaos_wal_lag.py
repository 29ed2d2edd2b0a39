"""WAL lag injection: region us's shipper paused (`geoledger crr pause --region us`, the switch
an operator uses) under load until its stream is more than WalReplicationLag's 30 s behind in eu.
The alert fires in a real Prometheus; once shipping resumes it clears, the regions converge and
every acknowledged event is in both."""

from __future__ import annotations

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
# The rule's threshold is 30 s of lag and its `for:` (5m) becomes 5 s: about 40 s after the pause,
# plus scrape and evaluation cycles and a loaded machine.
FIRE_TIMEOUT_S = 90
CLEAR_TIMEOUT_S = 60
CONVERGE_TIMEOUT_S = 90
LAG_ALERT = {"source": "us/n1", "target": "eu", "severity": "warning"}


async def test_paused_shipper_fires_wal_replication_lag_and_clears_on_resume(
    running_stack: RunningStack, tmp_path: Path, chaos_artifacts: ChaosArtifacts
) -> None:
    settings = await isolated_settings(running_stack, tmp_path, "chaos_lag")
    await register(settings, ACME)
    async with chaos_run(settings, running_stack.config_path, chaos_artifacts, tmp_path) as run:
        system, prometheus, acked = run.system, run.prometheus, run.acked
        async with running_load(system, acked, ACME, "lag"):
            await system.geoledger("crr", "pause", "--region", "us")
            alert = await prometheus.watch.wait_firing(
                "WalReplicationLag", LAG_ALERT, FIRE_TIMEOUT_S
            )
            assert float(alert["value"]) > 30, alert
            await chaos_artifacts.snapshot_metrics("fault", system.metric_addresses())
            await system.geoledger("crr", "resume", "--region", "us")
            await prometheus.watch.wait_gone("WalReplicationLag", LAG_ALERT, CLEAR_TIMEOUT_S)
        await settle(system, acked, CONVERGE_TIMEOUT_S)
