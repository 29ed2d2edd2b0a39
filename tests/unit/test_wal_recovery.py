"""What a writer does with the directory it opens: cut torn tails, refuse everything else."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from storage.wal import (
    WalCorruptionError,
    WalWriter,
    iter_records,
    list_segments,
    read_segment,
)
from storage.wal.framing import HEADER_BYTES, encode_frame, encode_frames
from storage.wal.naming import segment_file_name
from tests.support.wal import SEGMENT_BYTES, SEGMENT_LIMITS

STREAM = "us/n1"


def record(seq: int) -> bytes:
    return f"record {seq} ".encode() * (1 + seq % 5)


def write_segment(
    directory: Path, first_seq: int, count: int, *, sealed: bool, tail: bytes = b""
) -> Path:
    """A segment holding records first_seq .. first_seq + count - 1, then `tail`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / segment_file_name(first_seq, sealed=sealed)
    records = [record(seq) for seq in range(first_seq, first_seq + count)]
    path.write_bytes(encode_frames(records) + tail)
    return path


def flip_bit(path: Path, offset: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


async def reopen_and_append(directory: Path) -> tuple[int, list[int]]:
    """last_seq right after recovery, and the seqs a fresh append then gets."""
    async with await WalWriter.open(directory, STREAM, **SEGMENT_LIMITS) as writer:
        last_seq = writer.last_seq
        return last_seq, await writer.append([b"after recovery"])


# -- torn tails ----------------------------------------------------------------------------------


async def test_every_cut_inside_the_last_frame_is_truncated(tmp_path: Path) -> None:
    frames = encode_frames([record(1), record(2), record(3)])
    last_start = len(frames) - len(encode_frame(record(3)))
    for cut in range(last_start + 1, len(frames)):
        directory = tmp_path / f"cut-{cut}"
        write_segment(directory, 1, 0, sealed=False, tail=frames[:cut])
        path = directory / segment_file_name(1, sealed=False)
        # Readers stop before the torn frame and leave the file alone ...
        assert [seq for seq, _ in iter_records(directory)] == [1, 2]
        assert path.stat().st_size == cut
        # ... the writer cuts it off and continues right after the last whole record.
        assert await reopen_and_append(directory) == (2, [3])
        assert path.stat().st_size == last_start + HEADER_BYTES + len(b"after recovery")
        assert [data for _, data in iter_records(directory)] == [
            record(1),
            record(2),
            b"after recovery",
        ]


async def test_a_flipped_bit_anywhere_in_the_last_frame_is_a_torn_tail(tmp_path: Path) -> None:
    frames = encode_frames([record(1), record(2)])
    last_start = len(frames) - len(encode_frame(record(2)))
    for offset in range(last_start, len(frames)):
        directory = tmp_path / f"flip-{offset}"
        path = write_segment(directory, 1, 2, sealed=False)
        flip_bit(path, offset, bit=offset % 8)
        assert await reopen_and_append(directory) == (1, [2]), f"bit flipped at byte {offset}"
        assert path.stat().st_size == last_start + HEADER_BYTES + len(b"after recovery")


async def test_a_zero_filled_tail_is_truncated(tmp_path: Path) -> None:
    # What a file system may show after a power loss: the size grew, the data never arrived.
    path = write_segment(tmp_path, 1, 3, sealed=False, tail=bytes(8192))
    assert await reopen_and_append(tmp_path) == (3, [4])
    assert len(read_open_records(path)) == 4


def read_open_records(path: Path) -> list[bytes]:
    return [data for _, data in iter_records(path.parent)]


async def test_a_torn_first_frame_leaves_an_empty_open_segment_that_age_never_seals(
    tmp_path: Path,
) -> None:
    write_segment(tmp_path, 1, 2, sealed=True)
    open_path = write_segment(tmp_path, 3, 0, sealed=False, tail=encode_frame(b"torn")[:6])
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=SEGMENT_BYTES, max_segment_age_s=0.01
    ) as writer:
        assert writer.last_seq == 2
        assert writer.last_record() == record(2)
        await asyncio.sleep(0.1)
        assert open_path.exists() and open_path.stat().st_size == 0
        assert writer.stats.seals == 0
        assert await writer.append([b"next"]) == [3]


# -- damage recovery must not repair -------------------------------------------------------------


async def test_a_bad_frame_in_a_sealed_segment_names_the_path_and_offset(tmp_path: Path) -> None:
    write_segment(tmp_path, 1, 3, sealed=True)
    damaged = write_segment(tmp_path, 4, 3, sealed=True)
    write_segment(tmp_path, 7, 1, sealed=False)
    second_frame = len(encode_frame(record(4)))
    flip_bit(damaged, second_frame + HEADER_BYTES + 2)
    with pytest.raises(WalCorruptionError) as opened:
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    assert (opened.value.path, opened.value.offset) == (damaged, second_frame)
    assert f"{damaged} at byte {second_frame}" in str(opened.value)
    assert "crc32c mismatch" in opened.value.reason
    # Readers refuse it the same way.
    with pytest.raises(WalCorruptionError) as read:
        read_segment(damaged)
    assert (read.value.path, read.value.offset) == (damaged, second_frame)
    with pytest.raises(WalCorruptionError):
        list(iter_records(tmp_path))
    # And the writer did not take the directory: it can be opened again once repaired.
    assert not (tmp_path / segment_file_name(7, sealed=True)).exists()


async def test_a_sealed_segment_is_never_torn(tmp_path: Path) -> None:
    sealed = write_segment(tmp_path, 1, 2, sealed=True, tail=encode_frame(record(3))[:-1])
    with pytest.raises(WalCorruptionError, match="a sealed segment is never torn") as opened:
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    assert opened.value.path == sealed
    assert opened.value.offset == len(encode_frames([record(1), record(2)]))
    assert sealed.stat().st_size == opened.value.offset + len(encode_frame(record(3))) - 1


async def test_an_empty_sealed_segment_is_refused(tmp_path: Path) -> None:
    write_segment(tmp_path, 1, 0, sealed=True)
    with pytest.raises(WalCorruptionError, match="at least one record"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


async def test_a_bad_frame_followed_by_valid_frames_in_the_open_segment_is_refused(
    tmp_path: Path,
) -> None:
    # The frames after the damage may be acknowledged records: cutting them would lose them and
    # hand their seqs to new records. So this is not a torn tail.
    path = write_segment(tmp_path, 1, 5, sealed=False)
    third = len(encode_frames([record(1), record(2)]))
    flip_bit(path, third + HEADER_BYTES)
    size = path.stat().st_size
    with pytest.raises(WalCorruptionError, match="got a valid frame at byte") as opened:
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    assert (opened.value.path, opened.value.offset) == (path, third)
    assert path.stat().st_size == size, "recovery must not modify what it refuses"
    with pytest.raises(WalCorruptionError):
        list(iter_records(tmp_path))


async def test_damage_to_the_last_frames_length_that_exposes_a_valid_frame_is_refused(
    tmp_path: Path,
) -> None:
    # A header saying "longer than the file" hides the valid frames after it; the scan finds them.
    path = write_segment(tmp_path, 1, 4, sealed=False)
    second = len(encode_frame(record(1)))
    flip_bit(path, second + 1, bit=7)  # length += 8 MiB: now a "short record"
    with pytest.raises(WalCorruptionError, match="short record") as opened:
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    assert opened.value.offset == second


# -- directory layout ----------------------------------------------------------------------------


async def test_a_missing_segment_is_a_gap(tmp_path: Path) -> None:
    write_segment(tmp_path, 1, 3, sealed=True)
    write_segment(tmp_path, 4, 3, sealed=True)
    after_gap = write_segment(tmp_path, 7, 3, sealed=True)
    write_segment(tmp_path, 10, 1, sealed=False)
    (tmp_path / segment_file_name(4, sealed=True)).unlink()
    with pytest.raises(WalCorruptionError, match="expected this segment to start at seq 4") as e:
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    assert e.value.path == after_gap
    # A reader finds it too: segment 1 holds 3 records, but the next one starts at 7.
    with pytest.raises(WalCorruptionError, match="expected 6 records"):
        list(iter_records(tmp_path))


async def test_a_segment_holding_more_than_its_name_allows_is_refused(tmp_path: Path) -> None:
    write_segment(tmp_path, 1, 4, sealed=True)  # seqs 1..4
    write_segment(tmp_path, 4, 1, sealed=False)  # claims seq 4 again
    with pytest.raises(WalCorruptionError, match="start at seq 5"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ([(1, 2, True), (3, 1, False), (4, 1, False)], "at most one open segment, got 2"),
        ([(1, 2, False), (3, 1, True)], "open segment to be the newest"),
        ([(1, 2, True), (1, 2, False)], "one segment per first seq"),
        ([(2, 2, True)], "first segment to start at seq 1, got 2"),
    ],
)
async def test_impossible_layouts_are_refused(
    tmp_path: Path, layout: list[tuple[int, int, bool]], message: str
) -> None:
    for first_seq, count, sealed in layout:
        write_segment(tmp_path, first_seq, count, sealed=sealed)
    with pytest.raises(WalCorruptionError, match=message):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    with pytest.raises(WalCorruptionError, match=message):
        list_segments(tmp_path)


async def test_a_malformed_segment_name_is_refused(tmp_path: Path) -> None:
    write_segment(tmp_path, 1, 1, sealed=True)
    (tmp_path / "12.seg").write_bytes(encode_frame(b"x"))
    with pytest.raises(WalCorruptionError, match="expected a segment name"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


# -- what recovery hands the writer --------------------------------------------------------------


async def test_last_record_survives_a_restart(tmp_path: Path) -> None:
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert writer.last_record() is None and writer.last_seq == 0
        await writer.append([b"one", b"two"])
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert (writer.last_seq, writer.last_record()) == (2, b"two")
        await writer.seal()  # now no open segment exists: the newest record is in a sealed one
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert (writer.last_seq, writer.last_record()) == (2, b"two")
        assert await writer.append([b"three"]) == [3]
    assert [name for name in sorted(os.listdir(tmp_path)) if not name.endswith(".lock")] == [
        segment_file_name(1, sealed=True),
        segment_file_name(3, sealed=False),
        "checkpoint.json",  # sealed through 2: the next start reads only what follows
        "stream",
    ]
