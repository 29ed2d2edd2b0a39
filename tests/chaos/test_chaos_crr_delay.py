"""CRR delay: toxiproxy between every process and the regions' object stores, with a latency
toxic on the stores' answers under load until shipping and replay fall more than
WalReplicationLag's 30 s behind. The alert fires in a real Prometheus; without the toxic it clears,
the regions converge and every acknowledged event is in both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunningStack
from tests.support.chaos_artifacts import ChaosArtifacts
from tests.support.chaos_run import chaos_run
from tests.support.chaos_system import running_load, settle
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from tests.support.toxiproxy import Toxiproxy, proxied_object_stores, store_proxy

pytestmark = pytest.mark.timeout(300)

ACME = tenant("acme")
# Each S3/GCS answer delayed this long: a segment's upload, manifest and replay read take many
# requests, so shipping falls behind a steady load.
LATENCY_MS = 5000
# The rule's threshold is 30 s of lag and its `for:` (5m) becomes 5 s.
FIRE_TIMEOUT_S = 120
CLEAR_TIMEOUT_S = 90
CONVERGE_TIMEOUT_S = 90
LAG_ALERT = {"source": "us/n1", "target": "eu", "severity": "warning"}


async def test_object_store_latency_fires_wal_replication_lag_and_clears(
    running_stack: RunningStack,
    tmp_path: Path,
    chaos_artifacts: ChaosArtifacts,
    toxiproxy: Toxiproxy,
) -> None:
    settings = await isolated_settings(running_stack, tmp_path, "chaos_delay")
    await register(settings, ACME)
    settings = await proxied_object_stores(settings, toxiproxy)
    async with chaos_run(settings, running_stack.config_path, chaos_artifacts, tmp_path) as run:
        system, prometheus, acked = run.system, run.prometheus, run.acked
        async with running_load(system, acked, ACME, "delay"):
            for region in settings.regions:
                await toxiproxy.add_latency(store_proxy(region), LATENCY_MS)
            alert = await prometheus.watch.wait_firing(
                "WalReplicationLag", LAG_ALERT, FIRE_TIMEOUT_S
            )
            assert float(alert["value"]) > 30, alert
            await chaos_artifacts.snapshot_metrics("fault", system.metric_addresses())
            for region in settings.regions:
                await toxiproxy.remove_toxic(store_proxy(region), "latency")
            await prometheus.watch.wait_gone("WalReplicationLag", LAG_ALERT, CLEAR_TIMEOUT_S)
        await settle(system, acked, CONVERGE_TIMEOUT_S)
