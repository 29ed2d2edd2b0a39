"""`drill region-outage`: on the running stack, crash one region (SIGKILL its ingest nodes and
their shippers) while its clients write, let them fail over to the other region, restart the
region on the disks it had, and measure what ARCHITECTURE §2 (I4) promises:

- RTO: from the crash until the surviving region acknowledged a batch of the failed region's
  clients (client-side failover, `outage_clients.FAILOVER_TIMEOUT_S`);
- RPO: acknowledged events missing in the survivor once both regions converged: 0 when the
  region's disk survives;
- exposure: events the failed region had acknowledged but the survivor had not applied when it
  died, what a lost disk would have cost (the bound on RPO when the disk does not survive).

Then both regions must converge with nothing lost (I4) and nothing diverged (I3).

With `lose_disk` the region's disks are gone after the crash and it is rebuilt under new node
names (workers/drills/lost_disk.py): RPO may then be above 0 but at most the exposure, the
rebuilt region must hold everything the survivor holds, and `rebuild_seconds` says how long the
rebuild took to catch up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from temporalio.client import Client

from ledger.config import Settings
from ledger.keys import key_id_for
from ledger.stream_id import StreamId
from storage.dedup.store import DedupStore
from workers.audit_control import start_audit
from workers.crr_control import start_crr
from workers.demo_story import DEMO_TENANT, demo_events, ensure_demo_tenant, wait_converged
from workers.drills import lost_disk
from workers.drills.outage_clients import (
    ACKNOWLEDGED,
    SentBatches,
    node_last_seqs,
    send,
    send_with_failover,
)
from workers.drills.stack_processes import DrillPreconditionError, StackRegionProcesses
from workers.geo_check import run_geo_check


class RegionProcesses(Protocol):
    """What an outage takes down: a region's ingest nodes and their shippers."""

    names: list[str]

    def kill(self) -> None:
        """SIGKILL every one of them."""

    async def restore(self) -> None:
        """Start them again on the disks they had; return once every node answers."""

    async def rebuild(self, settings: Settings) -> None:
        """Start them on empty disks under the node names of `settings` (and restart whatever
        must read those names anew); return once every node answers."""


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
    lose_disk: bool = False
    # The region's node names after the drill (new ones when its disks were lost).
    nodes_after: list[str] | None = None
    # With the disks lost: from the rebuild's start until the region had caught up.
    rebuild_seconds: float | None = None
    tenant_keys_restored: int | None = None

    @property
    def ok(self) -> bool:
        # A lost disk loses at most what the survivor had not applied at the crash (I4).
        rpo_ok = self.rpo_events <= self.exposed_at_kill if self.lose_disk else self.rpo_events == 0
        return (
            self.accepted == self.events_sent
            and rpo_ok
            and self.missing_in_restored == 0
            and self.divergent_keys == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


async def region_outage(
    client: Client,
    settings: Settings,
    state_dir: Path,
    processes: RegionProcesses,
    region: str,
    events: int,
    say: Callable[[str], None] = lambda line: None,
    lose_disk: bool = False,
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
    killed = list(processes.names)
    say(f"killed {', '.join(killed)} (SIGKILL)")
    rebuild = _Rebuild(settings)
    if lose_disk:
        rebuild.audited = await lost_disk.stop_region_workflows(client, settings, region)
    try:
        during = await send_with_failover(settings, region, survivor, after_kill)
        local_sent = await send(settings, survivor, local)
        say(f"sent {len(after_kill) + len(local)} events; {during.failovers} batches failed over")
    finally:
        # 3. Restore, whatever happened meanwhile: on the same disks, or rebuilt on empty ones.
        if lose_disk:
            await rebuild.run(client, processes, region, survivor, say)
        else:
            await processes.restore()
    outage_seconds = time.monotonic() - killed_at
    say(f"restored {region} after {outage_seconds:.1f}s")

    after = rebuild.settings
    sent = SentBatches(results=acked_before.results + during.results + local_sent.results)
    last_seq = await node_last_seqs(after)
    survivor_stream = str(StreamId(survivor, settings.region(survivor).nodes[0].name))
    survivor_seq = max(during.newest_seq(), local_sent.newest_seq())
    last_seq[survivor_stream] = max(last_seq.get(survivor_stream, 0), survivor_seq)
    if lose_disk:
        converge_seconds = await lost_disk.wait_rebuilt(after, last_seq)
    else:
        converge_seconds = await wait_converged(settings, last_seq)
    rebuild_seconds = None if rebuild.started is None else time.monotonic() - rebuild.started
    acknowledged = sent.acknowledged_ids()
    lost_in_survivor = await _missing(after, survivor, acknowledged)
    lost_in_region = await _missing(after, region, acknowledged)
    geo = await run_geo_check(client)
    rto = None if during.first_failover_ack_at is None else during.first_failover_ack_at - killed_at
    return OutageReport(
        region=region,
        survivor=survivor,
        killed=killed,
        events_sent=len(homed) + len(local),
        accepted=sum(1 for r in sent.results if r["status"] in ACKNOWLEDGED),
        acked_before_kill=len(acked_before.acknowledged_ids()),
        exposed_at_kill=exposed,
        failovers=during.failovers,
        rto_seconds=None if rto is None else round(rto, 3),
        outage_seconds=round(outage_seconds, 2),
        converge_seconds=round(converge_seconds, 2),
        rpo_events=len(lost_in_survivor),
        # With the disk kept the restored region must hold every acknowledged event; a rebuilt
        # one everything the survivor holds (what neither holds is the RPO).
        missing_in_restored=len(lost_in_region - lost_in_survivor if lose_disk else lost_in_region),
        divergent_keys=geo.differing_keys,
        check_workflow_id=geo.workflow_id,
        lose_disk=lose_disk,
        nodes_after=[node.name for node in after.region(region).nodes],
        rebuild_seconds=None if rebuild_seconds is None else round(rebuild_seconds, 2),
        tenant_keys_restored=rebuild.keys,
    )


class _Rebuild:
    """The region rebuilt on empty disks under new node names, as the runbook says."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started: float | None = None
        self.keys: int | None = None
        # Whether the region's audit anchor workflow ran: it is started again on the new disks.
        self.audited = False

    async def run(
        self,
        client: Client,
        processes: RegionProcesses,
        region: str,
        survivor: str,
        say: Callable[[str], None],
    ) -> None:
        await lost_disk.lose_disks(self.settings, region)
        say(f"{region}'s disks lost: WAL directory deleted, databases empty")
        self.started = time.monotonic()
        self.settings = lost_disk.with_new_node_names(self.settings, region)
        self.keys = await lost_disk.rebuild_control_data(self.settings, region, survivor)
        await processes.rebuild(self.settings)
        await start_crr(client, self.settings)
        if self.audited:
            # Its log is rebuilt from the shipped segments, the lost streams' first (the order
            # discovery lists them in), so a single-node region's log extends what its
            # witnesses cosigned before.
            await start_audit(client, self.settings, region)
        nodes = ", ".join(node.name for node in self.settings.region(region).nodes)
        say(f"{region} rebuilt as {nodes}; {self.keys} tenant keys restored; replay started")


async def _exposed(settings: Settings, survivor: str, stream: str, acked: SentBatches) -> int:
    """Events of `stream` acknowledged in `acked` that the survivor has not applied yet: read
    just before the crash, so at most what a lost disk would lose."""
    async with await DedupStore.open(settings.region(survivor)) as store:
        applied = await store.applied_position(stream)
    return sum(1 for r in acked.results if (r.get("seq") or 0) > applied)


async def _missing(settings: Settings, region: str, event_ids: set[str]) -> set[str]:
    """Those of the demo tenant's `event_ids` that the region does not hold."""
    async with await DedupStore.open(settings.region(region)) as store:
        return event_ids - await store.held_event_ids(DEMO_TENANT, event_ids)


__all__ = [
    "DEMO_TENANT",
    "DrillPreconditionError",
    "OutageReport",
    "RegionProcesses",
    "StackRegionProcesses",
    "region_outage",
]
