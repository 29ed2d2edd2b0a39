"""WAL frames: `[u32 length][u32 crc32c][record]`, big-endian, CRC-32C over the record."""

from __future__ import annotations

import random
import time

import pytest

from storage.wal import MAX_RECORD_BYTES, EmptyRecordError, RecordTooLargeError
from storage.wal.framing import (
    HEADER_BYTES,
    crc32c,
    encode_frame,
    encode_frames,
    find_valid_frame,
    scan_frames,
)

# CRC-32C test vectors of RFC 3720 (iSCSI), Appendix B.4 "CRC Examples". The RFC prints each CRC
# as the bytes sent on the wire, least significant first (e.g. "aa 36 91 8a"); these are the values.
RFC_3720_B4_VECTORS = [
    ("32 bytes of zeros", bytes(32), 0x8A9136AA),
    ("32 bytes of ones", b"\xff" * 32, 0x62A8AB43),
    ("32 bytes incrementing 00..1f", bytes(range(32)), 0x46DD794E),
    ("32 bytes decrementing 1f..00", bytes(range(31, -1, -1)), 0x113FDB5C),
]
# The "check" value of CRC-32/ISCSI in the CRC RevEng catalogue
# (reveng.sourceforge.io/crc-catalogue).
REVENG_CHECK = (b"123456789", 0xE3069283)


@pytest.mark.parametrize(("name", "data", "expected"), RFC_3720_B4_VECTORS)
def test_crc32c_matches_rfc_3720_vectors(name: str, data: bytes, expected: int) -> None:
    assert crc32c(data) == expected, name


def test_crc32c_matches_the_catalogue_check_value() -> None:
    data, expected = REVENG_CHECK
    assert crc32c(data) == expected


def test_frame_is_big_endian_length_then_crc_then_record() -> None:
    data, crc = REVENG_CHECK
    assert encode_frame(data) == bytes.fromhex("00000009") + crc.to_bytes(4, "big") + data


def test_frames_round_trip_with_their_offsets() -> None:
    rng = random.Random(7)
    records = [rng.randbytes(size) for size in (1, 2, 7, 8, 9, 255, 4096, 100_000)]
    records += [rng.randbytes(rng.randint(1, 3000)) for _ in range(200)]
    data = encode_frames(records)
    frames, bad = scan_frames(data)
    assert bad is None
    assert [frame.record for frame in frames] == records
    offsets = [0]
    for record in records[:-1]:
        offsets.append(offsets[-1] + HEADER_BYTES + len(record))
    assert [frame.offset for frame in frames] == offsets


def test_the_largest_record_round_trips_and_one_more_byte_is_refused() -> None:
    largest = b"\xab" * MAX_RECORD_BYTES
    frames, bad = scan_frames(encode_frame(largest))
    assert bad is None and frames[0].record == largest
    with pytest.raises(RecordTooLargeError, match=f"at most {MAX_RECORD_BYTES} bytes, got"):
        encode_frame(largest + b"\xab")


def test_empty_records_are_refused() -> None:
    with pytest.raises(EmptyRecordError):
        encode_frame(b"")


def _bad_frame_reason(data: bytes) -> tuple[int, str]:
    _, bad = scan_frames(data)
    assert bad is not None
    return bad.offset, bad.reason


def test_scan_stops_at_the_first_bad_frame_and_says_why() -> None:
    good = encode_frames([b"alpha", b"beta"])
    third = encode_frame(b"gamma")
    cases = {
        "short header": (good + third[:5], "short header: expected 8 bytes, got 5"),
        "short record": (good + third[:-1], "short record: expected 5 bytes, got 4"),
        "zero length": (good + bytes(16), "expected a record length of at least 1, got 0"),
        "too long": (
            good + (MAX_RECORD_BYTES + 1).to_bytes(4, "big") + bytes(4),
            f"expected a record length of at most {MAX_RECORD_BYTES}, got {MAX_RECORD_BYTES + 1}",
        ),
        "crc": (good + third[:-1] + b"G", "crc32c mismatch"),
    }
    for name, (data, reason) in cases.items():
        offset, got = _bad_frame_reason(data)
        assert offset == len(good), name
        assert reason in got, name


def test_find_valid_frame_skips_garbage_and_zeros() -> None:
    frame = encode_frame(b"after the damage")
    garbage = random.Random(3).randbytes(5000)
    assert find_valid_frame(garbage + frame, 0) == len(garbage)
    assert find_valid_frame(bytes(100_000) + frame, 0) == 100_000
    assert find_valid_frame(bytes(100_000), 0) is None
    assert find_valid_frame(garbage, 0) is None
    # A frame cut short is not a valid frame.
    assert find_valid_frame(garbage + frame[:-1], 0) is None
    # Candidates right at the end, with no room for a header, are not frames.
    for tail in (b"\x00", b"\x01\x00", b"\x00\x00\x00\x05\x00\x00\x00"):
        assert find_valid_frame(b"\xff" * 20 + tail, 0) is None
    # A valid frame followed by more frames, or by the start of a torn one, is found.
    assert find_valid_frame(garbage + frame + frame, 0) == len(garbage)
    assert find_valid_frame(garbage + frame + frame[:5], 0) == len(garbage)
    assert find_valid_frame(garbage + frame + frame[:-3], 0) == len(garbage)


def test_find_valid_frame_is_fast_on_a_torn_record_of_random_bytes() -> None:
    # The tail of a big compressed record cut by a crash: megabytes of noise in which small
    # "lengths" abound. Each must not cost a CRC over megabytes.
    noise = random.Random(5).randbytes(8 << 20)
    started = time.perf_counter()
    assert find_valid_frame(noise, 0) is None
    # About 0.5 s on a loaded 2-core machine; without the filter about 15 s.
    assert time.perf_counter() - started < 5.0
