"""Geo-DR measured by the drill operators run (`geoledger drill region-outage`): eu's ingest node
and shipper are SIGKILLed while eu's clients write, the clients fail over to us, and eu restarts
on the WAL it had, or (`--lose-disk`) is rebuilt on empty disks under a new node name.

Asserted with the disk kept: every event acknowledged by either region, before or during the
outage, is in both regions afterwards (RPO 0: none missing in the survivor, none in the restored
region); the regions converge with no divergent key; every batch after the crash failed over and
the first was acknowledged by us within the failover timeout (the RTO is measured, not assumed);
and the exposure at the crash is bounded by what eu had acknowledged. With the disk lost: RPO at
most that exposure, and the rebuilt eu holds everything us holds (replayed from the shipped WAL,
its own old stream included) with no divergent key.
"""

from __future__ import annotations

import math
import signal
from pathlib import Path

import pytest

from ledger.config import Settings
from tests.conftest import RunningStack
from tests.support.cluster import terminate_crr
from tests.support.isolated import isolated_settings
from tests.support.processes import GeoledgerProcess, ProcessGroup, start_ingest_node, start_worker
from workers.client import connect
from workers.crr_control import start_crr
from workers.drills.outage_clients import BATCH_EVENTS, FAILOVER_TIMEOUT_S
from workers.drills.region_outage import OutageReport, region_outage
from workflows import queues

pytestmark = pytest.mark.timeout(300)

DOWN, EVENTS = "eu", 400


class GroupRegionProcesses:
    """A region's ingest node and shipper as processes of the test's group."""

    def __init__(self, group: ProcessGroup, settings: Settings, config: Path, region: str) -> None:
        self._group, self.settings, self._config, self._region = group, settings, config, region
        self._node = settings.region(region).nodes[0].name
        self._running: list[GeoledgerProcess] = []
        self.names = [f"ingest-{region}-{self._node}", f"worker-{self._queue}"]
        self.killed_with: list[int] = []

    @property
    def _queue(self) -> str:
        return queues.node_queue(self._region, self._node)

    async def start(self) -> None:
        node = await start_ingest_node(self._group, self.settings, self._config, self._region)
        shipper = await start_worker(self._group, self.settings, self._config, self._queue)
        self._running = [node.process, shipper]

    def kill(self) -> None:
        self.killed_with = [process.kill() for process in self._running]

    async def restore(self) -> None:
        await self.start()

    async def rebuild(self, settings: Settings) -> None:
        self.settings, self._node = settings, settings.region(self._region).nodes[0].name
        await self.start()


async def outage_drill(
    running_stack: RunningStack, tmp_path: Path, lose_disk: bool
) -> tuple[OutageReport, GroupRegionProcesses]:
    settings = await isolated_settings(running_stack, tmp_path, "outage")
    config = running_stack.config_path
    client = await connect(settings)
    group = ProcessGroup(tmp_path / "logs")
    down = GroupRegionProcesses(group, settings, config, DOWN)
    try:
        await start_ingest_node(group, settings, config, "us")
        await start_worker(group, settings, config, queues.node_queue("us", "n1"))
        await start_worker(group, settings, config, queues.CRR)
        await down.start()
        await start_crr(client, settings)
        state = tmp_path / "state"
        report = await region_outage(
            client, settings, state, down, DOWN, EVENTS, lose_disk=lose_disk
        )
    finally:
        await terminate_crr(client, down.settings)
        group.close()
    return report, down


async def test_a_crashed_region_loses_nothing_acknowledged_and_its_clients_fail_over(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    report, down = await outage_drill(running_stack, tmp_path, lose_disk=False)

    assert down.killed_with == [-signal.SIGKILL, -signal.SIGKILL]
    assert (report.rpo_events, report.missing_in_restored, report.divergent_keys) == (0, 0, 0)
    assert report.accepted == report.events_sent
    # demo_events adds 60 shared keys to each half; the second half of eu's goes out after the
    # crash, every batch of it through us.
    homed = EVENTS // 2 + 60
    assert report.failovers == math.ceil((homed - homed // 2) / BATCH_EVENTS)
    assert report.rto_seconds is not None and 0 < report.rto_seconds < FAILOVER_TIMEOUT_S + 5
    assert 0 <= report.exposed_at_kill <= report.acked_before_kill == homed // 2
    assert report.ok


async def test_a_region_whose_disks_are_lost_is_rebuilt_from_the_shipped_wal(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    report, _ = await outage_drill(running_stack, tmp_path, lose_disk=True)

    assert report.nodes_after == ["n2"] and report.tenant_keys_restored >= 1
    assert report.accepted == report.events_sent
    assert 0 <= report.rpo_events <= report.exposed_at_kill
    assert (report.missing_in_restored, report.divergent_keys) == (0, 0)
    assert report.rebuild_seconds is not None and report.ok
