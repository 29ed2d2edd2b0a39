"""What a writer does before its first append: verify the stream's directory and cut a torn tail.

Every sealed segment is read and CRC-checked once, which proves the seqs are gap-free (each
segment's record count must reach the next segment's first seq). This costs one sequential read
of the local WAL per start, the price of never building on a hole.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage.wal.errors import WalCorruptionError
from storage.wal.reader import list_segments
from storage.wal.segment import parse_open_segment, parse_sealed_segment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveredStream:
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


def recover_directory(directory: Path, fsync: Callable[[int], None]) -> RecoveredStream:
    """Verify every segment of `directory` and truncate the open segment's torn tail (fsync'd).

    Raises WalCorruptionError for anything recovery must not repair (see `segment.py`).
    """
    next_seq = 1
    last_record: bytes | None = None
    for info in list_segments(directory):
        # Names are checked against the running count, not against each other.
        if info.first_seq != next_seq:
            raise WalCorruptionError(
                info.path,
                None,
                f"expected this segment to start at seq {next_seq} (right after the previous "
                f"segment's last record), got {info.first_seq}: seqs have a gap",
            )
        if info.sealed:
            records = parse_sealed_segment(info.path, info.path.read_bytes())
            next_seq += len(records)
            last_record = records[-1]
            continue
        return _recover_open_segment(info.path, info.first_seq, last_record, fsync)
    return RecoveredStream(next_seq, None, next_seq, 0, 0, last_record, 0)


def _recover_open_segment(
    path: Path, first_seq: int, previous_record: bytes | None, fsync: Callable[[int], None]
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
    )
