"""Applies WAL-durable records to the dedup store, in sequence order per shard.

Requests reach the WAL in group commits and finish in any order, but each shard's applied
position of the node's stream (recorded with each apply, in the same transaction) must only ever
cover a gap-free prefix of the records routed to it: otherwise a crash could leave an earlier,
unapplied record behind a later position and recovery would skip it. So groups are routed in seq
order into one lane per shard (api/ingest/shard_lanes.py), each lane applies its records in order,
merging consecutive groups into one set-based apply, and retries on its own: a shard that is down
holds back only the requests with records on it (answered 503 at once), not the other shards'.

A lane that cannot apply keeps its records in memory until its shard is back; `check_room`
refuses a batch (503) before it reaches the WAL once a lane it would write holds records of
`max_backlog_bytes`, so a stuck lane's memory stays bounded: by that plus the batches that passed
the check before (at most the node's in-flight budget of requests). Bytes, not records, because
one event may be up to a request body's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence

from api.ingest import metrics
from api.ingest.errors import NodeUnavailable, ShardBacklogFull
from api.ingest.shard_lanes import Settled, ShardLanes
from storage.dedup.models import ApplyResult, DedupRecord
from storage.dedup.store import DedupStore

log = logging.getLogger("geoledger.ingest.applier")

RETRY_DELAY_S = 0.5
MAX_LANE_BACKLOG_BYTES = 64 * 1024 * 1024
"""Signed-event bytes one shard's lane may hold before batches writing to that shard are refused
(503): minutes of a busy node's writes to one shard, a small part of a node's memory."""


class OrderedApplier:
    def __init__(
        self,
        dedup: DedupStore,
        stream: str,
        next_seq: int,
        region: str,
        max_backlog_bytes: int = MAX_LANE_BACKLOG_BYTES,
    ) -> None:
        self._dedup = dedup
        self._stream = stream
        self._region = region
        self._lanes = ShardLanes(next_seq, max_backlog_bytes, dedup.in_flight)
        self._waiters: dict[int, asyncio.Future[list[ApplyResult]]] = {}
        self._wakes: dict[int, asyncio.Event] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def check_room(self, keys: Iterable[tuple[str, str]]) -> None:
        """Raise ShardBacklogFull (nothing written) when a shard these (tenant, event id) keys
        are written to has a full lane."""
        full = self._lanes.full_shards(self._dedup.route, keys)
        if full:
            raise ShardBacklogFull(
                f"dedup shard(s) {', '.join(map(str, full))} of {self._stream} have a full apply "
                "backlog (the shard does not answer): nothing was written; retry later"
            )

    async def apply(self, first_seq: int, records: Sequence[DedupRecord]) -> list[ApplyResult]:
        """Queue the group whose records carry seqs `first_seq…`; answer once every shard it
        writes has applied it. Raises the first failure of one of those shards."""
        waiter: asyncio.Future[list[ApplyResult]] = asyncio.get_running_loop().create_future()
        self._waiters[first_seq] = waiter
        self._lanes.arrive(first_seq, records)
        # The route is read and its epoch held with no await in between (see shard_lanes).
        self._settle(self._lanes.dispatch(self._dedup.route))
        for shard in self._lanes.shards:
            if self._lanes.has_work(shard):
                self._wake(shard)
        return await waiter

    @property
    def backlog(self) -> int:
        return self._lanes.total_backlog

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        closed = NodeUnavailable(f"the applier of {self._stream} closed")
        self._settle(Settled(first, error=closed) for first in self._lanes.abandon())

    def _wake(self, shard: int) -> None:
        if shard not in self._tasks:
            self._wakes[shard] = asyncio.Event()
            self._tasks[shard] = asyncio.get_running_loop().create_task(
                self._run_lane(shard), name=f"dedup-lane-{shard}"
            )
        self._wakes[shard].set()

    def _settle(self, settled: Iterable[Settled]) -> None:
        for group in settled:
            waiter = self._waiters.pop(group.first_seq, None)
            if waiter is None or waiter.done():
                continue
            if group.error is not None:
                waiter.set_exception(group.error)
            else:
                assert group.results is not None
                waiter.set_result(group.results)

    async def _run_lane(self, shard: int) -> None:
        wake = self._wakes[shard]
        backlog = metrics.APPLY_BACKLOG.labels(self._region, str(shard))
        while True:
            backlog.set(self._lanes.backlog(shard))
            await wake.wait()
            wake.clear()
            while (batch := self._lanes.next_batch(shard)) is not None:
                backlog.set(self._lanes.backlog(shard))
                started = time.perf_counter()
                try:
                    results = await self._dedup.apply_shard(
                        shard, batch.records, stream=self._stream, through_seq=batch.through_seq
                    )
                except Exception as exc:  # the shard is down: the records stay durable in the WAL
                    if not self._lanes.failing(shard):
                        log.warning("dedup shard %d cannot apply its lane: %s", shard, exc)
                    self._settle(self._lanes.failed(shard, exc))
                    await asyncio.sleep(RETRY_DELAY_S)
                    continue
                metrics.DEDUP_APPLY_SECONDS.observe(time.perf_counter() - started)
                if self._lanes.failing(shard):
                    log.info("dedup shard %d applies its lane again", shard)
                self._settle(self._lanes.applied(shard, results))
