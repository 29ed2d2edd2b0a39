"""The two-region system a chaos test breaks: each region's ingest node and its CRR node worker
(shipper and lag sampler) plus the shared `geoledger-crr` worker, all real `geoledger` processes
on the session's embedded stack, with the /metrics addresses Prometheus scrapes; a load that
remembers every event a node acknowledged; and the checks every chaos test ends with.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ledger.config import Settings
from storage.dedup.store import DedupStore
from storage.embedded.process import free_port
from tests.support.chaos_artifacts import ChaosArtifacts
from tests.support.chaos_prometheus import ScrapeTarget
from tests.support.processes import (
    GeoledgerProcess,
    IngestProcess,
    ProcessGroup,
    geoledger_env,
    run_geoledger,
    start_ingest_node,
    start_worker,
)
from tests.support.tenants import TestTenant
from workers.client import connect
from workers.crr_control import start_crr
from workflows import queues

ACKNOWLEDGED = frozenset({"accepted", "duplicate"})
LOAD_PAUSE_S = 0.2
LOAD_BATCH = 5


@dataclass
class ChaosSystem:
    settings: Settings
    config_path: Path
    group: ProcessGroup
    artifacts: ChaosArtifacts
    ingest: dict[str, IngestProcess] = field(default_factory=dict)
    node_workers: dict[str, GeoledgerProcess] = field(default_factory=dict)
    worker_ports: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """The environment of a `geoledger` command against this system."""
        return {**geoledger_env(self.settings, self.config_path), "COLUMNS": "500"}

    def node(self, region: str) -> str:
        return self.settings.region(region).nodes[0].name

    def node_queue(self, region: str) -> str:
        """The task queue of the region's node worker (its shipper and lag sampler)."""
        return queues.node_queue(region, self.node(region))

    def stream(self, region: str) -> str:
        return f"{region}/{self.node(region)}"

    def metric_addresses(self) -> dict[str, str]:
        """Process name -> host:port of its /metrics."""
        addresses = {
            f"ingest-{region}": process.base_url.removeprefix("http://")
            for region, process in self.ingest.items()
        }
        for name, port in self.worker_ports.items():
            addresses[f"worker-{name}"] = f"127.0.0.1:{port}"
        return addresses

    def scrape_targets(self) -> list[ScrapeTarget]:
        """The jobs of deploy/prometheus/prometheus.yml, with this system's addresses."""
        targets = [
            ScrapeTarget("geoledger-ingest", p.base_url.removeprefix("http://"), {"region": r})
            for r, p in self.ingest.items()
        ]
        node_queue_regions = {self.node_queue(r): r for r in self.settings.regions}
        for name, port in self.worker_ports.items():
            if name in node_queue_regions:
                labels = {"region": node_queue_regions[name]}
                targets.append(ScrapeTarget("geoledger-crr-node", f"127.0.0.1:{port}", labels))
            else:
                targets.append(ScrapeTarget("geoledger-crr", f"127.0.0.1:{port}", {}))
        return targets

    async def start_ingest(self, region: str) -> IngestProcess:
        self.ingest[region] = await start_ingest_node(
            self.group, self.settings, self.config_path, region
        )
        return self.ingest[region]

    async def start_worker(self, queue: str) -> GeoledgerProcess:
        # The same port across restarts: Prometheus scrapes a fixed address.
        port = self.worker_ports.setdefault(queue, free_port())
        return await start_worker(
            self.group, self.settings, self.config_path, queue, metrics_port=port
        )

    async def start(self) -> None:
        """Every process, then the CRR workflows."""
        await asyncio.gather(*(self.start_ingest(region) for region in self.settings.regions))
        node_queues = {r: self.node_queue(r) for r in self.settings.regions}
        started = await asyncio.gather(
            self.start_worker(queues.CRR), *(self.start_worker(q) for q in node_queues.values())
        )
        self.node_workers = dict(zip(node_queues, started[1:], strict=True))
        # In-process rather than `geoledger crr start`: one interpreter start less per test.
        await start_crr(await connect(self.settings), self.settings)

    async def geoledger(self, *args: str, timeout_s: float = 90.0) -> str:
        outcome = await run_geoledger(self.env, *args, timeout_s=timeout_s)
        assert outcome.code == 0, f"geoledger {' '.join(args)}: exit {outcome.code}\n{outcome.said}"
        return outcome.stdout


@dataclass
class Acknowledged:
    """Every event a node acknowledged (accepted or duplicate), and each stream's highest seq."""

    # (tenant_id, event_id) -> the regions that acknowledged it.
    keys: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    last_seq: dict[str, int] = field(default_factory=dict)
    # "<region> <HTTP status>" (or "<region> unreachable") -> how many batches got it.
    answers: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def count(self, region: str) -> int:
        """Events acknowledged by `region` so far."""
        return sum(1 for regions in self.keys.values() if region in regions)

    def record(self, stream: str, region: str, events: list[Any], results: list[Any]) -> None:
        for event, result in zip(events, results, strict=True):
            if result["status"] in ACKNOWLEDGED:
                self.keys[(event["tenant_id"], event["event_id"])].add(region)
                if result.get("seq"):
                    self.last_seq[stream] = max(self.last_seq.get(stream, 0), result["seq"])


async def post(
    system: ChaosSystem, acked: Acknowledged, region: str, events: list[dict[str, Any]]
) -> httpx.Response | None:
    """One batch to the region's node; its acknowledged events recorded. None when nothing
    answered (the node is down)."""
    base_url = system.ingest[region].base_url
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            answer = await client.post("/v1/events", json={"events": events})
    except httpx.TransportError:
        acked.answers[f"{region} unreachable"] += 1
        return None
    acked.answers[f"{region} {answer.status_code}"] += 1
    if answer.status_code == 200:
        acked.record(system.stream(region), region, events, answer.json()["results"])
    return answer


async def load(system: ChaosSystem, acked: Acknowledged, tenant: TestTenant, label: str) -> None:
    """Batches to every region in turn until cancelled."""
    for n in itertools.count():
        for region in system.settings.regions:
            events = [tenant.event(f"{label}-{region}-{n}-{i}") for i in range(LOAD_BATCH)]
            await post(system, acked, region, events)
        await asyncio.sleep(LOAD_PAUSE_S)


@contextlib.asynccontextmanager
async def running_load(
    system: ChaosSystem, acked: Acknowledged, tenant: TestTenant, label: str
) -> AsyncIterator[asyncio.Task[None]]:
    """`load` in the background while the block runs."""
    task = asyncio.create_task(load(system, acked, tenant, label))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_converged(system: ChaosSystem, acked: Acknowledged, timeout_s: float) -> None:
    """Until every region applied every stream through its highest acknowledged seq."""
    stores = {r: await DedupStore.open(system.settings.region(r)) for r in system.settings.regions}
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            behind = {
                (region, stream): (applied, last)
                for region, store in stores.items()
                for stream, last in acked.last_seq.items()
                if (applied := await store.applied_position(stream)) < last
            }
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not converged after {timeout_s}s: {behind}")
            await asyncio.sleep(0.5)
    finally:
        for store in stores.values():
            await store.close()


async def assert_no_acknowledged_loss(system: ChaosSystem, acked: Acknowledged) -> None:
    """Every acknowledged event is held by every region."""
    assert acked.keys, "the load got nothing acknowledged"
    for region in system.settings.regions:
        store = await DedupStore.open(system.settings.region(region))
        try:
            missing = [key for key in acked.keys if await store.get_event(*key) is None]
        finally:
            await store.close()
        assert not missing, f"{region} lacks {len(missing)} acknowledged events: {missing[:10]}"


async def settle(system: ChaosSystem, acked: Acknowledged, timeout_s: float) -> None:
    """The end of every chaos test: the regions converge, hold every acknowledged event, and the
    geo check finds no divergent key; watermarks, the geo report and metrics go to artifacts."""
    try:
        await wait_converged(system, acked, timeout_s)
    finally:
        status = await run_geoledger(system.env, "crr", "status", "--json", "--no-stores")
        system.artifacts.write_json("watermarks", status.json() if status.code == 0 else status)
        system.artifacts.write_json(
            "acknowledged",
            {"answers": acked.answers, "last_seq": acked.last_seq, "events": len(acked.keys)},
        )
        await system.artifacts.snapshot_metrics("end", system.metric_addresses())
    await assert_no_acknowledged_loss(system, acked)
    report = json.loads(await system.geoledger("geo", "check", "--json"))
    system.artifacts.write_json("geo-check", report)
    assert report["differing_keys"] == 0, report
