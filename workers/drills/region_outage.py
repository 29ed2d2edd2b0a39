"""`drill region-outage`: on the running stack, crash one region (SIGKILL its ingest nodes and
their shippers) while its clients write, let them fail over to the other region, restart the
region on the disks it had, and measure what ARCHITECTURE §2 (I4) promises:

- RTO: from the crash until the surviving region acknowledged a batch of the failed region's
  clients (client-side failover, `outage_clients.FAILOVER_TIMEOUT_S`);
- RPO: acknowledged events missing in the survivor once both regions converged: 0 when the
  region's disk survives;
- exposure: events the failed region had acknowledged but the survivor had not applied when it
  died, what a lost disk would have cost (the bound on RPO when the disk does not survive).

Then both regions must converge with nothing lost (I4) and nothing diverged (I3)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from temporalio.client import Client

from ledger.config import Settings
from ledger.keys import key_id_for
from ledger.stream_id import StreamId
from storage.dedup.store import DedupStore
from storage.embedded.apps import AppProcesses
from workers.demo_story import (
    DEMO_TENANT,
    demo_events,
    ensure_demo_tenant,
    wait_converged,
    wait_for_nodes,
)
from workers.drills.outage_clients import ACKNOWLEDGED, SentBatches, send, send_with_failover
from workers.geo_check import run_geo_check
from workflows import queues


class DrillPreconditionError(Exception):
    """The stack the drill acts on is not running as `geoledger demo` leaves it."""


class RegionProcesses(Protocol):
    """What an outage takes down: a region's ingest nodes and their shippers."""

    names: list[str]

    def kill(self) -> None:
        """SIGKILL every one of them."""

    async def restore(self) -> None:
        """Start them again on the disks they had; return once every node answers."""


@dataclass
class OutageReport:
    region: str
    survivor: str
    killed: list[str]
    events_sent: int
    accepted: int
    acked_before_kill: int
    exposed_at_kill: int
    failovers: int
    rto_seconds: float | None
    outage_seconds: float
    converge_seconds: float
    rpo_events: int
    missing_in_restored: int
    divergent_keys: int
    check_workflow_id: str

    @property
    def ok(self) -> bool:
        return (
            self.accepted == self.events_sent
            and self.rpo_events == 0
            and self.missing_in_restored == 0
            and self.divergent_keys == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class StackRegionProcesses:
    """A region's processes as `geoledger demo` started them (recorded in the stack's state)."""

    def __init__(self, settings: Settings, state_dir: Path, region: str) -> None:
        self._settings = settings
        self._apps = AppProcesses(state_dir)
        self.names = outage_processes(settings, region)
        running = self._apps.all()
        missing = [n for n in self.names if n not in running or not running[n].alive]
        if missing:
            raise DrillPreconditionError(
                f"{', '.join(missing)} not running: start the stack with `geoledger demo` first"
            )
        self._argv = {name: running[name].argv[1:] for name in self.names}

    def kill(self) -> None:
        for name in self.names:
            self._apps.kill(name)

    async def restore(self) -> None:
        for name in self.names:
            self._apps.ensure(name, self._argv[name])
        await asyncio.to_thread(wait_for_nodes, self._settings)


def outage_processes(settings: Settings, region: str) -> list[str]:
    """The app processes that make up a region's ingest and shipping."""
    names: list[str] = []
    for node in settings.region(region).nodes:
        names += [f"ingest-{region}-{node.name}", f"worker-{queues.node_queue(region, node.name)}"]
    return names


async def region_outage(
    client: Client,
    settings: Settings,
    state_dir: Path,
    processes: RegionProcesses,
    region: str,
    events: int,
    say: Callable[[str], None] = lambda line: None,
) -> OutageReport:
    survivor = next((name for name in settings.regions if name != region), None)
    if survivor is None:
        raise DrillPreconditionError("a region-outage drill needs at least two regions")
    private_key = await ensure_demo_tenant(settings, state_dir)
    key_id = key_id_for(private_key.public_key())
    run = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    homed = demo_events(private_key, key_id, f"{run}-outage", region, events // 2)
    local = demo_events(private_key, key_id, f"{run}-outage", survivor, events - events // 2)
    before_kill, after_kill = homed[: len(homed) // 2], homed[len(homed) // 2 :]
    stream = str(StreamId(region, settings.region(region).nodes[0].name))

    # 1. The region's clients write to it; what it acknowledged is durable there.
    acked_before = await send(settings, region, before_kill)
    exposed = await _exposed(settings, survivor, stream, acked_before)
    say(
        f"{region} acknowledged {len(acked_before.results)} events; {exposed} not yet in {survivor}"
    )

    # 2. The crash, then its clients fail over while the survivor's own clients go on.
    processes.kill()
    killed_at = time.monotonic()
    say(f"killed {', '.join(processes.names)} (SIGKILL)")
    try:
        during = await send_with_failover(settings, region, survivor, after_kill)
        local_sent = await send(settings, survivor, local)
        say(f"sent {len(after_kill) + len(local)} events; {during.failovers} batches failed over")
    finally:
        # 3. Restore on the same disks, whatever happened meanwhile.
        await processes.restore()
    outage_seconds = time.monotonic() - killed_at
    say(f"restored {region} after {outage_seconds:.1f}s")

    sent = SentBatches(results=acked_before.results + during.results + local_sent.results)
    last_seq = await _last_seqs(settings)
    survivor_stream = str(StreamId(survivor, settings.region(survivor).nodes[0].name))
    survivor_seq = max(during.newest_seq(), local_sent.newest_seq())
    last_seq[survivor_stream] = max(last_seq.get(survivor_stream, 0), survivor_seq)
    converge_seconds = await wait_converged(settings, last_seq)
    acknowledged = sent.acknowledged_ids()
    geo = await run_geo_check(client)
    rto = None if during.first_failover_ack_at is None else during.first_failover_ack_at - killed_at
    return OutageReport(
        region=region,
        survivor=survivor,
        killed=processes.names,
        events_sent=len(homed) + len(local),
        accepted=sum(1 for r in sent.results if r["status"] in ACKNOWLEDGED),
        acked_before_kill=len(acked_before.acknowledged_ids()),
        exposed_at_kill=exposed,
        failovers=during.failovers,
        rto_seconds=None if rto is None else round(rto, 3),
        outage_seconds=round(outage_seconds, 2),
        converge_seconds=round(converge_seconds, 2),
        rpo_events=await _missing(settings, survivor, acknowledged),
        missing_in_restored=await _missing(settings, region, acknowledged),
        divergent_keys=geo.differing_keys,
        check_workflow_id=geo.workflow_id,
    )


async def _exposed(settings: Settings, survivor: str, stream: str, acked: SentBatches) -> int:
    """Events of `stream` acknowledged in `acked` that the survivor has not applied yet: read
    just before the crash, so at most what a lost disk would lose."""
    async with await DedupStore.open(settings.region(survivor)) as store:
        applied = await store.applied_position(stream)
    return sum(1 for r in acked.results if (r.get("seq") or 0) > applied)


async def _missing(settings: Settings, region: str, event_ids: set[str]) -> int:
    """How many of the demo tenant's `event_ids` the region does not hold."""
    async with await DedupStore.open(settings.region(region)) as store:
        missing = 0
        for event_id in sorted(event_ids):
            if await store.get_event(DEMO_TENANT, event_id) is None:
                missing += 1
        return missing


async def _last_seqs(settings: Settings) -> dict[str, int]:
    """Every node's newest durable seq, from its health endpoint."""
    seqs: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for region, config in settings.regions.items():
            for node in config.nodes:
                health = (await client.get(f"http://{node.host}:{node.port}/healthz")).json()
                seqs[str(StreamId(region, node.name))] = int(health["wal_last_seq"])
    return seqs


__all__ = [
    "DEMO_TENANT",
    "DrillPreconditionError",
    "OutageReport",
    "RegionProcesses",
    "StackRegionProcesses",
    "region_outage",
]
