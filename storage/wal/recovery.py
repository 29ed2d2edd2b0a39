"""What a writer does before its first append: verify the stream's directory and cut a torn tail.

Every sealed segment after the checkpoint's `sealed_through_seq` is read and CRC-checked, which
proves the seqs after it are gap-free (each segment's record count must reach the next segment's
first seq); the segments up to it were verified before (by the writer that sealed them, or by an
earlier start) and are only checked by name: one must end exactly at `sealed_through_seq`. So a
start reads what was sealed since the last checkpoint, the open segment, and at most one more
segment (the newest record's bytes seed the node's clock), whatever the history. A directory
without a checkpoint is read whole once; the writer then writes one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage.wal.checkpoint import WalCheckpoint, update_checkpoint
from storage.wal.directory import claim_stream, make_directory
from storage.wal.errors import WalCorruptionError
from storage.wal.lock import DirectoryLock
from storage.wal.reader import scan_stream
from storage.wal.segment import parse_open_segment, parse_sealed_segment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveredStream:
    """Where a writer's start left the stream: its next seq, open segment and what recovery did."""

    # The seq the next appended record gets.
    next_seq: int
    # The open segment to keep appending to, or None when the next record starts a new one.
    open_path: Path | None
    open_first_seq: int
    open_bytes: int
    open_records: int
    # The newest durable record, None for an empty stream.
    last_record: bytes | None
    # Bytes cut from the open segment's end (0 when its tail was clean).
    truncated_bytes: int
    # The last seq of the newest sealed segment (0 when none is retained or ever was).
    sealed_through: int
    # The checkpoint start trusted.
    checkpoint: WalCheckpoint
    # Sealed segments read (and CRC-checked) by this start.
    segments_read: int


def recover_directory(directory: Path, fsync: Callable[[int], None]) -> RecoveredStream:
    """Verify the segments of `directory` after its checkpoint and truncate the open segment's
    torn tail (fsync'd).

    Raises WalCorruptionError for anything recovery must not repair (see `segment.py`), and when
    the checkpoint does not match the segments: a gap after the first retained seq, or a
    checkpoint pointing past the segments that exist.
    """
    layout = scan_stream(directory)
    checkpoint = layout.checkpoint
    through = checkpoint.sealed_through_seq
    # From the segment holding the sealed-through seq on: the names before it are not touched.
    segments = layout.segments_from(through if through >= checkpoint.first_retained_seq else 1)
    start, newest_trusted = _skip_trusted(directory, checkpoint, segments)
    next_seq = max(checkpoint.first_retained_seq, checkpoint.sealed_through_seq + 1)
    last_record = newest_trusted.last_record if newest_trusted is not None else None
    sealed_through = checkpoint.sealed_through_seq
    read = 0
    for first_seq, sealed, name in segments[start:]:
        path = directory / name
        # Names are checked against the running count, not against each other.
        if first_seq != next_seq:
            raise WalCorruptionError(
                path,
                None,
                f"expected this segment to start at seq {next_seq} (right after the previous "
                f"segment's last record), got {first_seq}: seqs have a gap",
            )
        if not sealed:
            if last_record is None and newest_trusted is not None:
                last_record = newest_trusted.read_last_record()
            return _recover_open_segment(
                path, first_seq, last_record, fsync, sealed_through, checkpoint, read
            )
        records = parse_sealed_segment(path, path.read_bytes())
        read += 1
        next_seq += len(records)
        last_record = records[-1]
        sealed_through = next_seq - 1
    if last_record is None and newest_trusted is not None:
        last_record = newest_trusted.read_last_record()
    return RecoveredStream(
        next_seq, None, next_seq, 0, 0, last_record, 0, sealed_through, checkpoint, read
    )


@dataclass
class _TrustedSegment:
    """The sealed segment ending at the checkpoint's sealed-through seq: trusted, read only when
    nothing newer holds the newest record."""

    path: Path
    last_record: bytes | None = None

    def read_last_record(self) -> bytes:
        return parse_sealed_segment(self.path, self.path.read_bytes())[-1]


def _skip_trusted(
    directory: Path, checkpoint: WalCheckpoint, segments: list[tuple[int, bool, str]]
) -> tuple[int, _TrustedSegment | None]:
    """(index of the first segment to read, the trusted segment ending at the checkpoint's
    sealed-through seq or None when no retained segment is trusted)."""
    through = checkpoint.sealed_through_seq
    if through < checkpoint.first_retained_seq:
        return 0, None
    covering = [index for index, (first_seq, _, _) in enumerate(segments) if first_seq <= through]
    if not covering or not segments[covering[-1]][1]:
        newest = f", the newest starts at {segments[-1][0]}" if segments else ""
        raise WalCorruptionError(
            directory,
            None,
            f"expected a sealed segment holding seq {through} (the checkpoint says the stream "
            f"is sealed through it), got none{newest}: the checkpoint points past the segments",
        )
    index = covering[-1]
    first_seq, _, name = segments[index]
    trusted = _TrustedSegment(directory / name)
    if index + 1 < len(segments):
        follower = segments[index + 1][0]
        if follower != through + 1:
            raise WalCorruptionError(
                directory / segments[index + 1][2],
                None,
                f"expected the segment after {name} to start at seq {through + 1} (the "
                f"checkpoint says the stream is sealed through {through}), got {follower}",
            )
        return index + 1, trusted
    # The newest segment, and sealed: only its record count says where it ends.
    records = parse_sealed_segment(trusted.path, trusted.path.read_bytes())
    last_seq = first_seq + len(records) - 1
    if last_seq != through:
        raise WalCorruptionError(
            trusted.path,
            None,
            f"expected the newest sealed segment to end at seq {through} (the checkpoint says "
            f"the stream is sealed through it), got {last_seq}"
            + (": the checkpoint points past the segments" if last_seq < through else ""),
        )
    trusted.last_record = records[-1]
    return index + 1, trusted


def _recover_open_segment(
    path: Path,
    first_seq: int,
    previous_record: bytes | None,
    fsync: Callable[[int], None],
    sealed_through: int,
    checkpoint: WalCheckpoint,
    segments_read: int,
) -> RecoveredStream:
    data = path.read_bytes()
    contents = parse_open_segment(path, data)
    truncated = len(data) - contents.valid_bytes
    if contents.torn_tail is not None:
        # The tail was never acknowledged: the ack waits for the fsync of the whole group.
        log.warning(
            "WAL %s: truncating a torn tail of %d bytes at byte %d (%s)",
            path,
            truncated,
            contents.valid_bytes,
            contents.torn_tail.reason,
        )
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, contents.valid_bytes)
            fsync(fd)
        finally:
            os.close(fd)
    records = contents.records
    return RecoveredStream(
        next_seq=first_seq + len(records),
        open_path=path,
        open_first_seq=first_seq,
        open_bytes=contents.valid_bytes,
        open_records=len(records),
        last_record=records[-1] if records else previous_record,
        truncated_bytes=truncated,
        sealed_through=sealed_through,
        checkpoint=checkpoint,
        segments_read=segments_read,
    )


def prepare_directory(
    directory: Path, stream: str, fsync: Callable[[int], None]
) -> tuple[DirectoryLock, RecoveredStream]:
    """The blocking part of opening a writer: create, lock, claim and recover the directory,
    and record in the checkpoint what this start verified. The lock is released on error."""
    make_directory(directory, fsync)
    lock = DirectoryLock.acquire(directory)
    try:
        claim_stream(directory, stream, fsync)
        recovered = recover_directory(directory, fsync)
    except BaseException:
        lock.release()
        raise
    if recovered.truncated_bytes:
        log.warning(
            "WAL %s: recovered with a torn tail of %d bytes cut", stream, recovered.truncated_bytes
        )
    if recovered.sealed_through > recovered.checkpoint.sealed_through_seq:
        # What this start verified, the next one need not read again.
        try:
            checkpoint = update_checkpoint(
                directory, WalCheckpoint(sealed_through_seq=recovered.sealed_through), fsync
            )
        except BaseException:
            lock.release()
            raise
        recovered = dataclasses.replace(recovered, checkpoint=checkpoint)
    return lock, recovered
