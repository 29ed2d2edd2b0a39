"""`drill region-outage`: on the running stack, stop one region's ingest nodes and its shippers,
keep ingesting through the other region with client-side failover, restore the region, and
verify that both regions converge with nothing lost (I4) and nothing diverged (I3)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from temporalio.client import Client

from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.embedded.apps import AppProcesses
from workers.demo_story import (
    DEMO_TENANT,
    demo_events,
    ensure_demo_tenant,
    wait_converged,
    wait_for_nodes,
)
from workers.geo_check import run_geo_check
from workflows import queues

FAILOVER_TIMEOUT_S = 2.0


class DrillPreconditionError(Exception):
    """The stack the drill acts on is not running as `geoledger demo` leaves it."""


@dataclass
class OutageReport:
    region: str
    survivor: str
    stopped: list[str]
    outage_seconds: float
    events_sent: int
    failovers: int
    accepted: int
    converge_seconds: float
    divergent_keys: int
    check_workflow_id: str

    @property
    def ok(self) -> bool:
        return self.accepted == self.events_sent and self.divergent_keys == 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def outage_processes(settings: Settings, region: str) -> list[str]:
    """The app processes that make up a region's ingest and shipping."""
    names: list[str] = []
    for node in settings.region(region).nodes:
        names += [f"ingest-{region}-{node.name}", f"worker-{queues.node_queue(region, node.name)}"]
    return names


async def region_outage(
    client: Client,
    settings: Settings,
    state_dir: Any,
    region: str,
    events: int,
    say: Callable[[str], None] = lambda line: None,
) -> OutageReport:
    survivor = next((name for name in settings.regions if name != region), None)
    if survivor is None:
        raise DrillPreconditionError("a region-outage drill needs at least two regions")
    apps = AppProcesses(state_dir)
    running = apps.all()
    names = outage_processes(settings, region)
    missing = [name for name in names if name not in running or not running[name].alive]
    if missing:
        raise DrillPreconditionError(
            f"{', '.join(missing)} not running: start the stack with `geoledger demo` first"
        )
    private_key = await ensure_demo_tenant(settings, state_dir)
    from ledger.keys import key_id_for

    key_id = key_id_for(private_key.public_key())
    run = time.strftime("%Y%m%dT%H%M%S", time.gmtime())

    homed = demo_events(private_key, key_id, f"{run}-outage", region, events // 2)
    local = demo_events(private_key, key_id, f"{run}-outage", survivor, events - events // 2)

    # 1. The outage: the region's nodes and shippers stop.
    argv = {name: running[name].argv[1:] for name in names}
    for name in names:
        apps.stop(name)
    say(f"stopped {', '.join(names)}")
    outage_started = time.monotonic()
    try:
        # 2. Clients homed in the region fail over to the survivor; the survivor's go on.
        results, failovers = await _send_with_failover(settings, region, survivor, homed)
        results += await _send(settings, survivor, local)
        say(f"sent {len(homed) + len(local)} events; {failovers} batches failed over")
    finally:
        # 3. Restore, whatever happened while the region was down.
        for name in names:
            apps.ensure(name, argv[name])
    survivor_stream = str(StreamId(survivor, settings.region(survivor).nodes[0].name))
    await asyncio.to_thread(wait_for_nodes, settings)
    outage_seconds = time.monotonic() - outage_started
    say(f"restored {region} after {outage_seconds:.1f}s")
    last_seq = await _last_seqs(settings)
    last_seq[survivor_stream] = max(
        [last_seq.get(survivor_stream, 0)] + [r["seq"] for r in results if r.get("seq")]
    )
    converge_seconds = await wait_converged(settings, last_seq)
    geo = await run_geo_check(client)
    return OutageReport(
        region=region,
        survivor=survivor,
        stopped=names,
        outage_seconds=round(outage_seconds, 2),
        events_sent=len(homed) + len(local),
        failovers=failovers,
        accepted=sum(1 for r in results if r["status"] in ("accepted", "duplicate", "conflict")),
        converge_seconds=round(converge_seconds, 2),
        divergent_keys=geo.differing_keys,
        check_workflow_id=geo.workflow_id,
    )


def _url(settings: Settings, region: str) -> str:
    node = settings.region(region).nodes[0]
    return f"http://{node.host}:{node.port}"


async def _post(client: httpx.AsyncClient, lines: list[str]) -> list[dict[str, Any]]:
    body = '{"events":[' + ",".join(lines) + "]}"
    answer = await client.post(
        "/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    answer.raise_for_status()
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def _send(settings: Settings, region: str, lines: list[str]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=_url(settings, region), timeout=30) as client:
        for start in range(0, len(lines), 100):
            results += await _post(client, lines[start : start + 100])
    return results


async def _send_with_failover(
    settings: Settings, home: str, fallback: str, lines: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """Each batch tries the home region first, as a client library would, then the fallback."""
    results: list[dict[str, Any]] = []
    failovers = 0
    async with (
        httpx.AsyncClient(base_url=_url(settings, home), timeout=FAILOVER_TIMEOUT_S) as primary,
        httpx.AsyncClient(base_url=_url(settings, fallback), timeout=30) as secondary,
    ):
        for start in range(0, len(lines), 100):
            batch = lines[start : start + 100]
            try:
                results += await _post(primary, batch)
            except httpx.TransportError:
                failovers += 1
                results += await _post(secondary, batch)
    return results, failovers


async def _last_seqs(settings: Settings) -> dict[str, int]:
    """Every node's newest durable seq, from its health endpoint."""
    seqs: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for region, config in settings.regions.items():
            for node in config.nodes:
                health = (await client.get(f"http://{node.host}:{node.port}/healthz")).json()
                seqs[str(StreamId(region, node.name))] = int(health["wal_last_seq"])
    return seqs


__all__ = ["DEMO_TENANT", "DrillPreconditionError", "OutageReport", "region_outage"]
