"""The steps of `geoledger demo`, each a small function the CLI narrates: provision the stack,
start the processes, ingest signed events into both regions, replicate, check convergence, sum
up."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client

from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.envelope import EventEnvelope
from ledger.keys import private_key_from_pem
from ledger.signing import sign_event
from ledger.stream_id import StreamId
from storage.crr.region_keys import ensure_signing_key_file
from storage.dedup.migrate import migrate_region
from storage.dedup.store import DedupStore
from storage.embedded.apps import AppProcesses
from storage.keys import KeyRegistry
from workers.crr_control import crr_statuses
from workers.crr_report import crr_report
from workers.ingest_http import post_signed_batch
from workflows import queues
from workflows.ship_wal import ShipStatus

DEMO_TENANT = "acme"


@dataclass
class IngestTally:
    by_region: dict[str, Counter[str]] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)

    def add(self, region: str, stream: str, results: list[dict[str, Any]]) -> None:
        self.by_region.setdefault(region, Counter()).update(r["status"] for r in results)
        seqs = [r["seq"] for r in results if r.get("seq")]
        if seqs:
            self.last_seq[stream] = max(self.last_seq.get(stream, 0), *seqs)


async def migrate_all(settings: Settings) -> None:
    for region in settings.regions.values():
        await migrate_region(region)


async def ensure_demo_tenant(settings: Settings, state_dir: Path) -> Ed25519PrivateKey:
    """The demo tenant's key: created once under the state directory, registered everywhere."""
    path = state_dir / "keys" / f"tenant-{DEMO_TENANT}.pem"
    ensure_signing_key_file(path)
    private_key = private_key_from_pem(path.read_bytes())
    registry = await KeyRegistry.open(settings)
    try:
        await registry.create(DEMO_TENANT, private_key.public_key())
    finally:
        await registry.close()
    return private_key


def start_processes(settings: Settings, state_dir: Path, config: Path | None) -> list[str]:
    """Ingest nodes and workers as background processes (kept running after the demo)."""
    apps = AppProcesses(state_dir)
    common = ["--config", str(config)] if config else []
    names: list[str] = []
    for region, region_config in settings.regions.items():
        for node in region_config.nodes:
            name = f"ingest-{region}-{node.name}"
            apps.ensure(name, ["ingest", "serve", "--region", region, "--node", node.name, *common])
            queue = queues.node_queue(region, node.name)
            apps.ensure(
                f"worker-{queue}",
                ["worker", "run", "--queue", queue, "--metrics-port", "0", *common],
            )
            names += [name, f"worker-{queue}"]
    for queue in (queues.CRR, queues.OPS, queues.TIERING, queues.AUDIT, queues.MIGRATE):
        apps.ensure(
            f"worker-{queue}", ["worker", "run", "--queue", queue, "--metrics-port", "0", *common]
        )
        names.append(f"worker-{queue}")
    # Each region's witness cosigns the other region's log (geoledger.toml [witnesses]).
    for witness in settings.witnesses:
        apps.ensure(witness, ["witness", "serve", "--name", witness, *common])
        names.append(witness)
    return names


def wait_for_nodes(settings: Settings, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    for region in settings.regions.values():
        for node in region.nodes:
            url = f"http://{node.host}:{node.port}/healthz"
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"ingest node at {url} did not become healthy") from None
                    time.sleep(0.2)


def demo_events(
    private_key: Ed25519PrivateKey, key_id: str, prefix: str, region: str, count: int
) -> list[str]:
    """`count` events of the region, plus the keys every region receives: 50 with identical
    content (duplicates) and 10 whose content differs by region (conflicts). Event ids start
    with `prefix`; one occurred_at per prefix, so the shared keys carry identical envelopes."""
    digits = "".join(ch for ch in prefix if ch.isdigit())[:14].ljust(14, "0")
    occurred_at = datetime.strptime(digits, "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")

    def signed(event_id: str, payload: dict[str, Any]) -> str:
        return _signed(private_key, key_id, event_id, occurred_at, payload)

    lines = [signed(f"{prefix}-{region}-{i}", {"region": region, "i": i}) for i in range(count)]
    lines += [signed(f"{prefix}-both-{i}", {"i": i}) for i in range(50)]
    lines += [signed(f"{prefix}-rival-{i}", {"seen_in": region}) for i in range(10)]
    return lines


def _signed(
    private_key: Ed25519PrivateKey,
    key_id: str,
    event_id: str,
    occurred_at: str,
    payload: dict[str, Any],
) -> str:
    envelope = EventEnvelope(
        tenant_id=DEMO_TENANT,
        event_id=event_id,
        key_id=key_id,
        occurred_at=occurred_at,
        type="demo.order",
        payload=payload,
    )
    return canonical_bytes(sign_event(private_key, envelope).to_dict()).decode()


async def send(url: str, lines: list[str], batch: int = 250) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for start in range(0, len(lines), batch):
            results += await post_signed_batch(client, lines[start : start + batch])
    return results


async def wait_converged(
    settings: Settings, last_seq: dict[str, int], timeout_s: float = 120
) -> float:
    """Until every region has applied every stream through `last_seq`; returns seconds waited."""
    stores = {name: await DedupStore.open(settings.region(name)) for name in settings.regions}
    started = time.monotonic()
    try:
        while True:
            behind = [
                (region, stream)
                for region, store in stores.items()
                for stream, seq in last_seq.items()
                if await store.applied_position(stream) < seq
            ]
            if not behind:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"regions not converged after {timeout_s:.0f}s: {behind}")
            await asyncio.sleep(0.25)
    finally:
        for store in stores.values():
            await store.close()


@dataclass(frozen=True)
class RegionSummary:
    """One region at the end of the demo: what it ingested and replayed, and what it holds."""

    region: str
    ingested: int
    replayed: int
    duplicates: int
    conflicts: int
    lag_seconds: float
    events: int


@dataclass(frozen=True)
class DemoSummary:
    regions: list[RegionSummary]
    streams_shipped: int
    raw_bytes_shipped: int
    compressed_bytes_shipped: int


async def summarize(client: Client, settings: Settings, tally: IngestTally) -> DemoSummary:
    """Per region the counts of the workflows' state and of its dedup store; shipping totals."""
    rows = await crr_report(client, settings)
    statuses = await crr_statuses(client, settings)
    ships = [s for s in statuses.values() if isinstance(s, ShipStatus)]
    regions: list[RegionSummary] = []
    for region in settings.regions:
        counts = tally.by_region.get(region)
        async with await DedupStore.open(settings.region(region)) as store:
            stored = await store.count_events()
            duplicates, conflicts = await store.count_copies()
            positions = await store.applied_positions()
        # Read from the store, not the replay workflows: a run that is still following its
        # stream reports what it applied only when it returns.
        replayed = sum(
            seq for stream, seq in positions.items() if StreamId.parse(stream).region != region
        )
        regions.append(
            RegionSummary(
                region=region,
                ingested=counts["accepted"] if counts else 0,
                replayed=replayed,
                duplicates=duplicates,
                conflicts=conflicts,
                lag_seconds=max(
                    (r.lag_seconds or 0.0 for r in rows if r.target == region), default=0.0
                ),
                events=stored,
            )
        )
    return DemoSummary(
        regions=regions,
        streams_shipped=len(ships),
        raw_bytes_shipped=sum(s.state.raw_bytes_shipped for s in ships),
        compressed_bytes_shipped=sum(s.state.compressed_bytes_shipped for s in ships),
    )
