"""The clients of a region-outage drill: they post signed batches to a region's first ingest node
and, when that node cannot be reached, fail over to another region as a client library would,
noting when the other region first acknowledged one of their batches (the RTO's end)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledger.config import Settings
from ledger.stream_id import StreamId
from workers.ingest_http import post_signed_batch

# How long a client waits for its home region before it tries the other one. A crashed node
# refuses connections at once; the timeout bounds the failover of a node that stopped answering.
FAILOVER_TIMEOUT_S = 2.0
BATCH_EVENTS = 100
# Answers that acknowledge an event: it is durable in the region that gave them (I4).
ACKNOWLEDGED = ("accepted", "duplicate", "conflict")


@dataclass
class SentBatches:
    """Every answer the drill's clients got, and when the fallback region first acknowledged."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failovers: int = 0
    first_failover_ack_at: float | None = None

    def acknowledged_ids(self) -> set[str]:
        return {r["event_id"] for r in self.results if r["status"] in ACKNOWLEDGED}

    def newest_seq(self) -> int:
        return max((r["seq"] for r in self.results if r.get("seq")), default=0)


def node_url(settings: Settings, region: str) -> str:
    node = settings.region(region).nodes[0]
    return f"http://{node.host}:{node.port}"


async def send(settings: Settings, region: str, lines: list[str]) -> SentBatches:
    """Post `lines` to `region` in batches; its answers."""
    sent = SentBatches()
    async with httpx.AsyncClient(base_url=node_url(settings, region), timeout=30) as client:
        for start in range(0, len(lines), BATCH_EVENTS):
            sent.results += await post_signed_batch(client, lines[start : start + BATCH_EVENTS])
    return sent


async def send_with_failover(
    settings: Settings, home: str, fallback: str, lines: list[str]
) -> SentBatches:
    """Each batch tries the home region first, then the fallback when home cannot be reached."""
    sent = SentBatches()
    async with (
        httpx.AsyncClient(base_url=node_url(settings, home), timeout=FAILOVER_TIMEOUT_S) as primary,
        httpx.AsyncClient(base_url=node_url(settings, fallback), timeout=30) as secondary,
    ):
        for start in range(0, len(lines), BATCH_EVENTS):
            batch = lines[start : start + BATCH_EVENTS]
            try:
                sent.results += await post_signed_batch(primary, batch)
            except httpx.TransportError:
                sent.failovers += 1
                sent.results += await post_signed_batch(secondary, batch)
                if sent.first_failover_ack_at is None:
                    sent.first_failover_ack_at = time.monotonic()
    return sent


async def node_last_seqs(settings: Settings) -> dict[str, int]:
    """Every node's newest durable seq, from its health endpoint."""
    seqs: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for region, config in settings.regions.items():
            for node in config.nodes:
                health = (await client.get(f"http://{node.host}:{node.port}/healthz")).json()
                seqs[str(StreamId(region, node.name))] = int(health["wal_last_seq"])
    return seqs
