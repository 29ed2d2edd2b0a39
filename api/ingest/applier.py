"""Applies WAL-durable records to the dedup store strictly in sequence order.

Requests reach the WAL in group commits and finish in any order, but the node's applied position
(recorded with each apply, in the same transaction) must only ever cover a gap-free prefix of the
stream: otherwise a crash could leave an earlier, unapplied group behind a later position and
recovery would skip it. So groups wait here for their predecessors, and consecutive groups merge
into one set-based apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from api.ingest import metrics
from storage.dedup.models import ApplyResult, DedupRecord
from storage.dedup.store import DedupStore

log = logging.getLogger("geoledger.ingest.applier")

MAX_MERGED_RECORDS = 5000
RETRY_DELAY_S = 0.5


@dataclass
class _Group:
    records: Sequence[DedupRecord]
    waiters: list[asyncio.Future[list[ApplyResult]]] = field(default_factory=list)


class OrderedApplier:
    def __init__(self, dedup: DedupStore, stream: str, next_seq: int) -> None:
        self._dedup = dedup
        self._stream = stream
        self._next_seq = next_seq
        self._pending: dict[int, _Group] = {}
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dedup-applier")

    async def apply(self, first_seq: int, records: Sequence[DedupRecord]) -> list[ApplyResult]:
        """Queue the group whose records carry seqs `first_seq…`; answer once it is applied."""
        waiter: asyncio.Future[list[ApplyResult]] = asyncio.get_running_loop().create_future()
        self._pending[first_seq] = _Group(records, [waiter])
        self._wake.set()
        return await waiter

    @property
    def backlog(self) -> int:
        return sum(len(group.records) for group in self._pending.values())

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._next_seq in self._pending:
                if not await self._apply_ready_prefix():
                    await asyncio.sleep(RETRY_DELAY_S)

    async def _apply_ready_prefix(self) -> bool:
        """Apply the contiguous run of groups starting at the next seq; False when it failed."""
        firsts: list[int] = []
        records: list[DedupRecord] = []
        seq = self._next_seq
        while seq in self._pending and len(records) < MAX_MERGED_RECORDS:
            group = self._pending[seq]
            firsts.append(seq)
            records.extend(group.records)
            seq += len(group.records)
        started = time.perf_counter()
        try:
            results = await self._dedup.apply(records, stream=self._stream, through_seq=seq - 1)
        except Exception as exc:  # the store is down: the records stay durable in the WAL
            log.warning("dedup apply of seqs %d-%d failed: %s", self._next_seq, seq - 1, exc)
            for first in firsts:
                for waiter in self._pending[first].waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
                self._pending[first].waiters.clear()
            return False
        metrics.DEDUP_APPLY_SECONDS.observe(time.perf_counter() - started)
        offset = 0
        for first in firsts:
            group = self._pending.pop(first)
            answer = results[offset : offset + len(group.records)]
            offset += len(group.records)
            for waiter in group.waiters:
                if not waiter.done():
                    waiter.set_result(answer)
        self._next_seq = seq
        return True
