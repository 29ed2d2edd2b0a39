"""The on-disk frame of one WAL record: `[u32 length][u32 crc32c][record bytes]`.

Both integers are BIG-endian (network order). `length` counts the record bytes only (not the
8-byte header); `crc32c` is CRC-32C (Castagnoli, RFC 3720 §B.4) of the record bytes. A record
holds 1 byte to 16 MiB. A segment file is nothing but frames back to back: no file header, no
padding, no seq numbers (seqs are positional, see `naming.py`).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import google_crc32c

from storage.wal.errors import EmptyRecordError, RecordTooLargeError

HEADER = struct.Struct(">II")
_LENGTH = struct.Struct(">I")
HEADER_BYTES = HEADER.size
MAX_RECORD_BYTES = 16 << 20

# A valid length is 1..16 MiB, so the top byte of its big-endian encoding is 0x00 or 0x01: only
# offsets holding one of those bytes can start a frame, which lets the resync scan skip ahead.
_POSSIBLE_FRAME_START = re.compile(rb"[\x00\x01]")
_NON_ZERO = re.compile(rb"[^\x00]")


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli polynomial 0x1EDC6F41, RFC 3720 §B.4) of `data`."""
    return int(google_crc32c.value(data))


def check_record(record: bytes) -> None:
    """Raise unless `record` fits in a frame: 1 to `MAX_RECORD_BYTES` bytes."""
    if len(record) == 0:
        raise EmptyRecordError()
    if len(record) > MAX_RECORD_BYTES:
        raise RecordTooLargeError(len(record), MAX_RECORD_BYTES)


def framed_size(record: bytes) -> int:
    """The bytes `record` takes on disk, header included."""
    return HEADER_BYTES + len(record)


def encode_frame(record: bytes) -> bytes:
    """The frame of one record. Requires a record accepted by `check_record`."""
    check_record(record)
    return HEADER.pack(len(record), crc32c(record)) + record


def encode_frames(records: Sequence[bytes]) -> bytes:
    """The frames of `records`, back to back, ready for a single write."""
    return b"".join(encode_frame(record) for record in records)


class Frame(NamedTuple):
    """One valid frame found in a segment: where it starts and the record it holds."""

    # A tuple, not a dataclass: recovery builds one per record, hundreds of thousands per start.
    offset: int  # where the frame's header starts in the segment
    record: bytes


@dataclass(frozen=True)
class BadFrame:
    """The first unusable frame in a segment: where it starts and why it is unusable."""

    offset: int  # where the first unusable frame starts in the segment
    reason: str


def _frame_problem(data: bytes, offset: int) -> str | None:
    """Why no valid frame starts at `offset`, or None when one does."""
    remaining = len(data) - offset
    if remaining < HEADER_BYTES:
        return f"short header: expected {HEADER_BYTES} bytes, got {remaining}"
    length, expected_crc = HEADER.unpack_from(data, offset)
    if length == 0:
        return "expected a record length of at least 1, got 0"
    if length > MAX_RECORD_BYTES:
        return f"expected a record length of at most {MAX_RECORD_BYTES}, got {length}"
    if remaining - HEADER_BYTES < length:
        return f"short record: expected {length} bytes, got {remaining - HEADER_BYTES}"
    start = offset + HEADER_BYTES
    actual_crc = crc32c(data[start : start + length])
    if actual_crc != expected_crc:
        return f"crc32c mismatch: header says {expected_crc:#010x}, record has {actual_crc:#010x}"
    return None


def scan_frames(data: bytes) -> tuple[list[Frame], BadFrame | None]:
    """Every valid frame from the start of `data` up to the first unusable one.

    Returns the frames and the first bad frame (None when `data` ends exactly after a frame).
    """
    frames: list[Frame] = []
    offset, size = 0, len(data)
    # The hot loop of recovery and of every reader: one unpack, one slice, one CRC per frame;
    # `_frame_problem` only runs to explain a frame that failed.
    while size - offset >= HEADER_BYTES:
        length, expected_crc = HEADER.unpack_from(data, offset)
        start = offset + HEADER_BYTES
        end = start + length
        if not 0 < length <= MAX_RECORD_BYTES or end > size:
            break
        record = data[start:end]
        if crc32c(record) != expected_crc:
            break
        frames.append(Frame(offset, record))
        offset = end
    if offset == size:
        return frames, None
    problem = _frame_problem(data, offset)
    assert problem is not None, f"frame at {offset} passed the full check but not the fast one"
    return frames, BadFrame(offset, problem)


def find_valid_frame(data: bytes, start: int) -> int | None:
    """The first offset >= `start` at which a complete, CRC-valid frame begins, or None.

    Used after a bad frame to tell a torn tail (nothing valid follows) from corruption in the
    middle of a segment (valid frames follow, so they may be acknowledged records).
    """
    offset = start
    while offset + HEADER_BYTES < len(data):
        candidate = _POSSIBLE_FRAME_START.search(data, offset)
        if candidate is None:
            return None
        offset = candidate.start()
        if offset + HEADER_BYTES >= len(data):
            return None  # no room left for a header and one record byte
        if data[offset : offset + 4] == b"\x00\x00\x00\x00":
            # A zero length is never valid: jump over the whole zero run (crashes leave long
            # zero-filled tails) to the last offset whose length field could still be non-zero.
            non_zero = _NON_ZERO.search(data, offset)
            if non_zero is None:
                return None
            offset = max(offset + 1, non_zero.start() - 3)
            continue
        if _plausible_frame_at(data, offset) and _frame_problem(data, offset) is None:
            return offset
        offset += 1
    return None


def _plausible_frame_at(data: bytes, offset: int) -> bool:
    """Cheap filter before the CRC: a frame that fits in `data` and is followed by the end of
    `data`, by a partial header, or by a header with a valid length - as every frame the writer
    wrote is. Without it, scanning a torn multi-MiB record of random bytes costs one CRC over
    megabytes at every offset whose bytes happen to look like a small length."""
    length: int = _LENGTH.unpack_from(data, offset)[0]
    end = offset + HEADER_BYTES + length
    if not 0 < length <= MAX_RECORD_BYTES or end > len(data):
        return False
    if len(data) - end < HEADER_BYTES:
        return True
    next_length: int = _LENGTH.unpack_from(data, end)[0]
    return 0 < next_length <= MAX_RECORD_BYTES
