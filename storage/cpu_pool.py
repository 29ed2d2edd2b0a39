"""CPU-bound work in worker processes, one per core.

Signature verification and record decoding hold the GIL (`cryptography` verifies Ed25519 with
the GIL held), so threads would run them one at a time and stall the event loop meanwhile. A
`CpuPool` splits a batch into one chunk per worker process and runs a module-level function on
each chunk: one round trip per worker per batch, since a task per item would cost more in
pickling than the item costs to process.

Workers fork from a server process that imported only the modules named as preload: no copy of
the owner's threads, sockets or locks (plain fork), and no re-import of the owner's entry point
(spawn). Each worker ends once its owner is gone, even after a SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

log = logging.getLogger("geoledger.cpu_pool")

OWNER_WATCH_S = 1.0
"""How often a worker checks that the process that started it is still there."""

_CONTEXT = multiprocessing.get_context("forkserver")
_PRELOADED: set[str] = {__name__}

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class CpuPool:
    """Runs `work(chunk) -> results` over a batch, split across `processes` worker processes.

    `work` must be a module-level function (or a `functools.partial` of one) whose results come
    back one per item, in order. Batches of at most `inline_max` items run in the calling process,
    where they cost less than a round trip to a worker.
    """

    def __init__(
        self, processes: int | None = None, inline_max: int = 8, preload: Sequence[str] = ()
    ) -> None:
        if processes is not None and processes < 1:
            raise ValueError(f"expected processes >= 1, got {processes}")
        self._processes = processes or os.cpu_count() or 2
        self._inline_max = inline_max
        self._preload = [*preload]
        self._executor: ProcessPoolExecutor | None = None

    @property
    def processes(self) -> int:
        """The number of worker processes a large batch is split across."""
        return self._processes

    def close(self) -> None:
        """Stop the worker processes, cancelling queued chunks; a later batch starts new ones."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def map_chunks(
        self, work: Callable[[list[_Item]], list[_Result]], items: Sequence[_Item]
    ) -> list[_Result]:
        """`work` applied to `items`, in order. An exception raised by `work` in any chunk is
        raised here (the earliest chunk's, so it names the earliest failing item).

        A worker that died (killed, out of memory) discards the pool; that batch runs here and
        the next one starts fresh workers.
        """
        batch = list(items)
        if len(batch) <= self._inline_max:
            return work(batch)
        size = -(-len(batch) // self._processes)
        chunks = [batch[start : start + size] for start in range(0, len(batch), size)]
        loop = asyncio.get_running_loop()
        executor = self._worker_pool()
        answers = await asyncio.gather(
            *(loop.run_in_executor(executor, work, chunk) for chunk in chunks),
            return_exceptions=True,
        )
        broken = [a for a in answers if isinstance(a, BrokenProcessPool)]
        if broken:
            log.warning("worker processes failed (%s); running this batch in-process", broken[0])
            self._discard_pool()
            return work(batch)
        results: list[_Result] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            results.extend(answer)
        return results

    def _worker_pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # The forkserver starts once per process; modules named before then are imported
            # once in it rather than in every worker.
            _PRELOADED.update(self._preload)
            _CONTEXT.set_forkserver_preload(sorted(_PRELOADED))
            self._executor = ProcessPoolExecutor(
                self._processes,
                mp_context=_CONTEXT,
                initializer=_watch_owner,
                initargs=(os.getpid(),),
            )
        return self._executor

    def _discard_pool(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _watch_owner(owner_pid: int) -> None:
    """Runs first in each worker process: end the worker once its owner is gone.

    A worker holds both ends of its task pipe, so an owner killed outright (SIGKILL, a crash)
    would otherwise leave it waiting forever."""

    def watch() -> None:
        while True:
            time.sleep(OWNER_WATCH_S)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass  # alive, under another user

    threading.Thread(target=watch, name="watch-owner", daemon=True).start()
