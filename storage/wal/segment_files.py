"""The segment files of one WAL writer: the open segment that groups of records are written to,
and its rotation - sealed at a size or age limit (fsync, rename `.open` -> `.seg`, fsync the
directory) and the next one started.

Blocking file work: the writer's committer task is its only user and runs it in a worker thread,
so no two threads ever touch a segment. Every failed write, fsync or rename raises
WalFailedError; the writer then fails for good (see storage/wal/writer.py).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.wal.directory import fsync_directory
from storage.wal.errors import WalFailedError
from storage.wal.framing import encode_frames
from storage.wal.naming import segment_file_name
from storage.wal.reader import SegmentInfo
from storage.wal.recovery import RecoveredStream

# Called in the worker thread for each sealed segment: (its last seq, its size in bytes).
SealedHook = Callable[[int, int], None]


@dataclass
class OpenSegment:
    """The segment the writer appends to: its file, first seq, size, record count and age."""

    fd: int
    path: Path
    first_seq: int
    bytes: int
    records: int
    # monotonic time its first record arrived (or the writer opened it with records in it);
    # None while it is empty, because an empty segment is never sealed.
    started_at: float | None


@dataclass
class GroupOutcome:
    """What writing a group (or sealing) did: each append's seqs and the fsyncs it took."""

    seqs: list[list[int]]
    fsyncs: int
    fsync_seconds: float


class SegmentFiles:
    """The open segment of one stream's directory, continued from what recovery found."""

    def __init__(
        self,
        directory: Path,
        max_segment_bytes: int,
        max_segment_age_s: float,
        fsync: Callable[[int], None],
        on_sealed: SealedHook,
        recovered: RecoveredStream,
    ) -> None:
        self._directory = directory
        self._max_segment_bytes = max_segment_bytes
        self._max_segment_age_s = max_segment_age_s
        self._fsync = fsync
        self._on_sealed = on_sealed
        self.seals = 0
        self._segment: OpenSegment | None = None
        if recovered.open_path is not None:
            fd = os.open(recovered.open_path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            self._segment = OpenSegment(
                fd,
                recovered.open_path,
                recovered.open_first_seq,
                recovered.open_bytes,
                recovered.open_records,
                time.monotonic() if recovered.open_records else None,
            )

    def close(self) -> None:
        """Close the open segment's file without sealing it: the next writer continues it."""
        if self._segment is not None:
            with contextlib.suppress(OSError):
                os.close(self._segment.fd)
            self._segment = None

    def age_deadline(self) -> float | None:
        """When the open segment's age makes it due for sealing; None while there is nothing to
        seal."""
        segment = self._segment
        if segment is None or segment.started_at is None:
            return None
        return segment.started_at + self._max_segment_age_s

    def seal_due(self) -> bool:
        """True when the open segment holds records and reached its size or age limit."""
        segment = self._segment
        if segment is None or segment.records == 0:
            return False
        if segment.bytes >= self._max_segment_bytes:
            return True
        deadline = self.age_deadline()
        return deadline is not None and time.monotonic() >= deadline

    def write_group(self, appends: Sequence[Sequence[bytes]], next_seq: int) -> GroupOutcome:
        """Write and fsync every append of a group (its records get seqs from `next_seq` on),
        starting new segments where one fills up.

        An append never straddles two segments; a segment exceeds `max_segment_bytes` only when
        a single append is larger than that.
        """
        outcome = GroupOutcome([], 0, 0.0)
        chunk: list[bytes] = []
        chunk_bytes = chunk_records = 0
        for records in appends:
            frames = encode_frames(records)
            segment = self._segment
            if (
                segment is not None
                and segment.records + chunk_records > 0
                and segment.bytes + chunk_bytes + len(frames) > self._max_segment_bytes
            ):
                # Full: make what it holds durable, seal it, and start the next one.
                self._flush(chunk, chunk_records, outcome)
                chunk, chunk_bytes, chunk_records = [], 0, 0
                self.seal(outcome)
            if self._segment is None:
                self._start_segment(next_seq, outcome)
            chunk.append(frames)
            chunk_bytes += len(frames)
            chunk_records += len(records)
            outcome.seqs.append(list(range(next_seq, next_seq + len(records))))
            next_seq += len(records)
        self._flush(chunk, chunk_records, outcome)
        return outcome

    def seal(self, outcome: GroupOutcome) -> SegmentInfo | None:
        """fsync the open segment, rename it `.open` -> `.seg`, fsync the directory; None when
        there was nothing to seal."""
        segment = self._segment
        if segment is None or segment.records == 0:
            return None
        self._timed_fsync(segment.fd, segment.path, outcome)
        sealed_path = self._directory / segment_file_name(segment.first_seq, sealed=True)
        try:
            os.close(segment.fd)
            self._segment = None
            os.rename(segment.path, sealed_path)
        except OSError as exc:
            raise WalFailedError(f"seal {segment.path}: {exc}") from exc
        self._fsync_directory(outcome)
        self.seals += 1
        last_seq = segment.first_seq + segment.records - 1
        self._on_sealed(last_seq, segment.bytes)
        return SegmentInfo(sealed_path, segment.first_seq, True, last_seq, segment.records)

    def _timed_fsync(self, fd: int, what: Path, outcome: GroupOutcome) -> None:
        started = time.perf_counter()
        try:
            self._fsync(fd)
        except OSError as exc:
            raise WalFailedError(f"fsync {what}: {exc}") from exc
        outcome.fsyncs += 1
        outcome.fsync_seconds += time.perf_counter() - started

    def _flush(self, chunk: list[bytes], records: int, outcome: GroupOutcome) -> None:
        segment = self._segment
        if segment is None or not chunk:
            return
        data = memoryview(b"".join(chunk))
        try:
            while data:
                written = os.write(segment.fd, data)
                data = data[written:]
        except OSError as exc:
            raise WalFailedError(f"write {segment.path}: {exc}") from exc
        self._timed_fsync(segment.fd, segment.path, outcome)
        segment.bytes += sum(len(frames) for frames in chunk)
        if segment.records == 0:
            segment.started_at = time.monotonic()
        segment.records += records

    def _start_segment(self, first_seq: int, outcome: GroupOutcome) -> None:
        path = self._directory / segment_file_name(first_seq, sealed=False)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise WalFailedError(f"create {path}: {exc}") from exc
        self._segment = OpenSegment(fd, path, first_seq, 0, 0, None)
        # The new name must be durable before any record in it is acknowledged.
        self._fsync_directory(outcome)

    def _fsync_directory(self, outcome: GroupOutcome) -> None:
        started = time.perf_counter()
        try:
            fsync_directory(self._directory, self._fsync)
        except OSError as exc:
            raise WalFailedError(f"fsync directory {self._directory}: {exc}") from exc
        outcome.fsyncs += 1
        outcome.fsync_seconds += time.perf_counter() - started
