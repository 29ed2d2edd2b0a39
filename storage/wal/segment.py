"""What a segment file's bytes mean: the rules that separate a torn tail from corruption.

- A sealed segment was fsync'd before it was renamed, so every byte of it is durable: any bad
  frame, a short trailing frame included, is corruption.
- The open segment may end in a torn tail: the last group's write can be cut short by a crash,
  and its bytes were never acknowledged (the ack follows the fsync). Everything from the first
  bad frame to the end of the file is that tail, *provided no complete valid frame follows it*.
  A valid frame after a bad one means the damage is in the middle (a flipped bit, a lost
  page) and the frames behind it may be acknowledged records: truncating them would lose them
  and hand their seqs to new records, so that is corruption too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.wal.errors import WalCorruptionError
from storage.wal.framing import BadFrame, find_valid_frame, scan_frames


@dataclass(frozen=True)
class OpenSegmentContents:
    """What an open segment holds: its valid records, their length and a torn tail, if any."""

    records: list[bytes]
    # Offset just past the last valid frame: the length the file should have.
    valid_bytes: int
    # Why the bytes after `valid_bytes` are not records; None when there are none.
    torn_tail: BadFrame | None


def parse_sealed_segment(path: Path, data: bytes) -> list[bytes]:
    """The records of sealed segment `path` whose content is `data`.

    Raises WalCorruptionError (path, offset of the bad frame) on any unusable frame, and when
    the segment holds no record at all (the writer never seals an empty segment).
    """
    frames, bad = scan_frames(data)
    if bad is not None:
        raise WalCorruptionError(path, bad.offset, f"{bad.reason} (a sealed segment is never torn)")
    if not frames:
        raise WalCorruptionError(
            path, 0, "expected a sealed segment to hold at least one record, got an empty file"
        )
    return [frame.record for frame in frames]


def parse_open_segment(path: Path, data: bytes) -> OpenSegmentContents:
    """The records of open segment `path` whose content is `data`, and its torn tail if any.

    Raises WalCorruptionError (path, offset of the first bad frame) when a complete valid frame
    follows the first bad frame.
    """
    frames, bad = scan_frames(data)
    records = [frame.record for frame in frames]
    if bad is None:
        return OpenSegmentContents(records, len(data), None)
    follower = find_valid_frame(data, bad.offset + 1)
    if follower is not None:
        raise WalCorruptionError(
            path,
            bad.offset,
            f"{bad.reason}; expected nothing valid after a torn tail, got a valid frame at byte "
            f"{follower}, so the records behind it may have been acknowledged",
        )
    return OpenSegmentContents(records, bad.offset, bad)
