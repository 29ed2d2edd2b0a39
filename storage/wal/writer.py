"""The asyncio WAL writer of one stream, with group commit.

Appenders only queue their records and wait. One committer task owns the files: it drains every
queued append into one group, writes the group with one `write` and makes it durable with one
`fsync` (both in a worker thread, so the event loop keeps serving requests), and only then
resolves the appenders' futures. While one fsync runs, the next group accumulates, so the fsync
rate stays bounded by the disk, not by the request rate. The same task seals segments (size or
age), so no two tasks ever touch a file.

An append is acknowledged only after its bytes are fsync'd (ARCHITECTURE I2). A failed write or
fsync fails the whole group and the writer for good: after a failed fsync the kernel may already
have dropped the dirty pages and marked them clean, so a retried fsync could "succeed" over lost
data (the 2018 PostgreSQL "fsyncgate").
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from storage.wal.errors import WalClosedError, WalFailedError
from storage.wal.framing import check_record
from storage.wal.lock import DirectoryLock
from storage.wal.naming import check_stream_name
from storage.wal.reader import SegmentInfo
from storage.wal.recovery import RecoveredStream, prepare_directory
from storage.wal.seal_checkpoint import IDLE_CHECKPOINT_S, SealCheckpointer
from storage.wal.segment_files import GroupOutcome, SegmentFiles

log = logging.getLogger(__name__)

Fsync = Callable[[int], None]
# Called on the event loop after every durable group: (records in the group, seconds spent in
# fsync for it). Meant for Prometheus histograms; it must not block.
CommitHook = Callable[[int, float], None]


@dataclass
class WalWriterStats:
    """Running totals since the writer opened."""

    groups: int = 0
    records: int = 0
    fsyncs: int = 0
    fsync_seconds: float = 0.0
    seals: int = 0
    truncated_bytes_at_open: int = 0
    # Sealed segments the start read and CRC-checked (those after the checkpoint).
    segments_read_at_open: int = 0
    checkpoints: int = 0


@dataclass
class _Append:
    records: list[bytes]
    future: asyncio.Future[list[int]]


class WalWriter:
    """Appends records to one stream's WAL directory. Create it with `await WalWriter.open(...)`."""

    def __init__(
        self,
        directory: Path,
        stream: str,
        max_segment_bytes: int,
        max_segment_age_s: float,
        fsync: Fsync,
        on_commit: CommitHook | None,
        lock: DirectoryLock,
        recovered: RecoveredStream,
    ) -> None:
        self._directory = directory
        self._stream = stream
        self._on_commit = on_commit
        self._lock = lock
        self._next_seq = recovered.next_seq
        self._last_record = recovered.last_record
        self._stats = WalWriterStats(
            truncated_bytes_at_open=recovered.truncated_bytes,
            segments_read_at_open=recovered.segments_read,
        )
        self._checkpoint = SealCheckpointer(
            directory,
            stream,
            fsync,
            recovered.sealed_through,
            recovered.checkpoint.sealed_through_seq,
        )
        self._files = SegmentFiles(
            directory,
            max_segment_bytes,
            max_segment_age_s,
            fsync,
            self._checkpoint.sealed,
            recovered,
        )
        self._pending: list[_Append] = []
        self._seal_waiters: list[asyncio.Future[SegmentInfo | None]] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._closed = False
        self._failure: BaseException | None = None
        self._committer = asyncio.get_running_loop().create_task(
            self._run(), name=f"wal-committer-{stream}"
        )

    @classmethod
    async def open(
        cls,
        directory: Path,
        stream: str,
        max_segment_bytes: int,
        max_segment_age_s: float,
        *,
        fsync: Fsync = os.fsync,
        on_commit: CommitHook | None = None,
    ) -> WalWriter:
        """Lock `directory` (created if missing) for stream `<region>/<node>`, verify it and
        truncate the open segment's torn tail, then start the committer.

        `fsync` is called for every file and directory fsync (tests inject failures through it).
        Raises WalLockedError if another writer owns the directory, WalStreamMismatchError if it
        belongs to another stream, WalCorruptionError if it holds damage recovery must not
        repair, InvalidStreamNameError for a malformed stream name.
        """
        check_stream_name(stream)
        if max_segment_bytes < 1:
            raise ValueError(f"expected max_segment_bytes >= 1, got {max_segment_bytes}")
        if max_segment_age_s <= 0:
            raise ValueError(f"expected max_segment_age_s > 0, got {max_segment_age_s}")
        directory = Path(directory)
        lock, recovered = await asyncio.to_thread(prepare_directory, directory, stream, fsync)
        try:
            return cls(
                directory,
                stream,
                max_segment_bytes,
                max_segment_age_s,
                fsync,
                on_commit,
                lock,
                recovered,
            )
        except BaseException:
            lock.release()
            raise

    # -- state -------------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The stream's WAL directory."""
        return self._directory

    @property
    def stream(self) -> str:
        """The stream (`<region>/<node>`) this writer appends to."""
        return self._stream

    @property
    def last_seq(self) -> int:
        """The seq of the newest durable record; 0 for an empty stream."""
        return self._next_seq - 1

    def last_record(self) -> bytes | None:
        """The newest durable record (to seed the caller's clock after a restart), or None."""
        return self._last_record

    @property
    def failed(self) -> bool:
        """True once writing failed; every later append then raises WalFailedError."""
        return self._failure is not None

    @property
    def closed(self) -> bool:
        """True once the writer is closed."""
        return self._closed

    @property
    def stats(self) -> WalWriterStats:
        """Counts of what the writer did so far (a copy)."""
        return dataclasses.replace(
            self._stats, seals=self._files.seals, checkpoints=self._checkpoint.updates
        )

    # -- public operations -------------------------------------------------------------------

    async def append(self, records: Sequence[bytes]) -> list[int]:
        """Append `records` as one contiguous run of seqs; return their seqs once they are
        written and fsync'd.

        Raises RecordTooLargeError / EmptyRecordError (nothing is written), WalClosedError,
        WalFailedError (the records may or may not be on disk; they are not acknowledged). If
        the caller is cancelled before its group is written, its records are dropped; after
        that they are written but the seqs are not returned.
        """
        self._check_usable()
        batch = [bytes(record) for record in records]
        for record in batch:
            check_record(record)
        if not batch:
            return []
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Append(batch, future))
        self._wakeup.set()
        return await future

    async def seal(self) -> SegmentInfo | None:
        """Seal the open segment now (after the appends queued before this call) and return
        it; None when there was nothing to seal, because an empty segment is never sealed."""
        self._check_usable()
        future: asyncio.Future[SegmentInfo | None] = asyncio.get_running_loop().create_future()
        self._seal_waiters.append(future)
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Commit what is queued, record in the checkpoint what was sealed, stop, release the
        lock. Does not seal the open segment: the next writer continues it."""
        if self._closed:
            return
        self._closing = True
        self._wakeup.set()
        try:
            await self._committer
            await self._checkpoint.finish()
        finally:
            self._closed = True
            self._files.close()
            self._lock.release()

    async def __aenter__(self) -> WalWriter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise self._failed_error()
        if self._closing or self._closed:
            raise WalClosedError(
                f"expected an open WAL writer for {self._stream}, got a closed one"
            )

    def _failed_error(self) -> WalFailedError:
        # A fresh instance per waiter: one exception object raised in many tasks would collect
        # all their tracebacks.
        error = WalFailedError(
            f"the WAL writer of {self._stream} failed and refuses appends until it is reopened: "
            f"{self._failure}"
        )
        error.__cause__ = self._failure
        return error

    # -- the committer task ------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                await self._wait_for_work()
                if self._pending:
                    group, self._pending = self._pending, []
                    if not await self._commit(group):
                        return
                if (self._seal_waiters or self._files.seal_due()) and not await self._seal():
                    return
                if self._closing and not self._pending and not self._seal_waiters:
                    return
        except BaseException as exc:
            # Cancelled (the loop is shutting down) or a bug: nobody may wait forever.
            self._fail(exc)
            raise

    async def _wait_for_work(self) -> None:
        while True:
            self._wakeup.clear()
            if self._pending or self._seal_waiters or self._closing or self._files.seal_due():
                return
            deadline = self._files.age_deadline()
            # Idle (nothing open to seal) with seals the checkpoint does not cover yet: record
            # them after a quiet moment, so a stream that stops does not keep them unprunable.
            checkpoint_due = deadline is None and self._checkpoint.behind
            if checkpoint_due:
                deadline = time.monotonic() + IDLE_CHECKPOINT_S
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
            if checkpoint_due and not self._wakeup.is_set():
                await self._checkpoint.advance()

    async def _commit(self, group: list[_Append]) -> bool:
        """Make `group` durable and acknowledge it; False when the writer failed doing so."""
        # A caller cancelled before its group was written gets nothing written.
        live = [append for append in group if not append.future.done()]
        if not live:
            return True
        try:
            batches = [append.records for append in live]
            outcome = await asyncio.to_thread(self._files.write_group, batches, self._next_seq)
        except Exception as exc:
            self._fail(exc, live)
            return False
        # Only now, with the group durable, do seqs and acknowledgements move forward.
        records = sum(len(append.records) for append in live)
        self._next_seq += records
        self._last_record = live[-1].records[-1]
        self._stats.groups += 1
        self._stats.records += records
        self._stats.fsyncs += outcome.fsyncs
        self._stats.fsync_seconds += outcome.fsync_seconds
        if self._on_commit is not None:
            try:
                self._on_commit(records, outcome.fsync_seconds)
            except Exception:
                log.exception("WAL %s: the on_commit hook raised; ignoring it", self._stream)
        for append, seqs in zip(live, outcome.seqs, strict=True):
            if not append.future.done():
                append.future.set_result(seqs)
        self._checkpoint.advance_if_due()  # the group may have filled and sealed a segment
        return True

    async def _seal(self) -> bool:
        """Seal the open segment for the waiting `seal()` callers and for size or age; False
        when the writer failed doing so."""
        waiters, self._seal_waiters = self._seal_waiters, []
        try:
            sealed = await asyncio.to_thread(self._seal_sync)
        except Exception as exc:
            self._fail(exc, seal_waiters=waiters)
            return False
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(sealed)
        self._checkpoint.advance_if_due()
        return True

    def _fail(
        self,
        exc: BaseException,
        group: list[_Append] | None = None,
        seal_waiters: list[asyncio.Future[SegmentInfo | None]] | None = None,
    ) -> None:
        if self._failure is None:
            self._failure = exc
            log.error("WAL %s: writer failed, refusing further appends: %s", self._stream, exc)
        futures: list[asyncio.Future[list[int]] | asyncio.Future[SegmentInfo | None]] = []
        futures += [append.future for append in [*(group or []), *self._pending]]
        futures += [*(seal_waiters or []), *self._seal_waiters]
        self._pending, self._seal_waiters = [], []
        for future in futures:
            if not future.done():
                future.set_exception(self._failed_error())

    # -- file work, run in a worker thread by the committer only ------------------------------

    def _seal_sync(self) -> SegmentInfo | None:
        outcome = GroupOutcome([], 0, 0.0)
        sealed = self._files.seal(outcome)
        self._stats.fsyncs += outcome.fsyncs
        self._stats.fsync_seconds += outcome.fsync_seconds
        return sealed
