"""Ingest at the demo's pace, and at a multiple of it, with each batch's acknowledgement time kept
at the client.

"The demo's ingest rate" is what `geoledger demo` makes one region's node take: batches of 250
signed events (workers.demo_story.send), each posted when the node has answered the previous
one, in events/s. `demo_rate` measures it; `paced` then posts batches of the same size on a fixed
schedule at any rate (open loop: a batch leaves at its time whether or not the ones before it
were answered), so a multiple of the demo's rate can be held for a window.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

# workers.demo_story.send's batch size: what the demo posts per request.
DEMO_BATCH = 250


@dataclass(frozen=True)
class BatchAck:
    """One answered batch: the seqs its events got in the node's stream, and when the client
    had the answer (time.monotonic())."""

    seqs: list[int]
    acked_at: float


@dataclass(frozen=True)
class LoadRun:
    """What one load run sent and how fast the node took it."""

    acks: list[BatchAck]
    events_per_s: float

    @property
    def seqs(self) -> list[int]:
        """Every seq the run's events got, in the order they were answered."""
        return [seq for ack in self.acks for seq in ack.seqs]


async def post_batch(client: httpx.AsyncClient, lines: Sequence[str]) -> BatchAck:
    """Post one batch as the demo does (a body of already-serialized events); every event must
    be accepted."""
    body = '{"events":[' + ",".join(lines) + "]}"
    answer = await client.post(
        "/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    acked_at = time.monotonic()
    answer.raise_for_status()
    results: list[dict[str, Any]] = answer.json()["results"]
    statuses = {result["status"] for result in results}
    if statuses != {"accepted"} or len(results) != len(lines):
        raise AssertionError(f"expected {len(lines)} accepted events, got {statuses}")
    return BatchAck([result["seq"] for result in results], acked_at)


def batches(lines: Sequence[str]) -> list[Sequence[str]]:
    return [lines[start : start + DEMO_BATCH] for start in range(0, len(lines), DEMO_BATCH)]


async def demo_rate(client: httpx.AsyncClient, lines: Sequence[str]) -> LoadRun:
    """Send `lines` the demo's way (one batch at a time, each when the last was answered)."""
    started = time.monotonic()
    acks = [await post_batch(client, batch) for batch in batches(lines)]
    return LoadRun(acks, len(lines) / (time.monotonic() - started))


async def paced(client: httpx.AsyncClient, lines: Sequence[str], rate: float) -> LoadRun:
    """Send `lines` in demo-sized batches, batch i at start + i * DEMO_BATCH / rate, however
    many are still unanswered. The achieved rate counts until the last answer."""
    started = time.monotonic()
    sent: list[asyncio.Task[BatchAck]] = []
    for index, batch in enumerate(batches(lines)):
        await asyncio.sleep(max(0.0, started + index * DEMO_BATCH / rate - time.monotonic()))
        sent.append(asyncio.create_task(post_batch(client, batch)))
    acks = list(await asyncio.gather(*sent))
    return LoadRun(acks, len(lines) / (max(ack.acked_at for ack in acks) - started))
