"""Readers: listing segments, iterating records, and never seeing half a record."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path

import pytest

from storage.wal import (
    SegmentInfo,
    WalCorruptionError,
    WalWriter,
    iter_records,
    list_segments,
    read_segment,
    sealed_segments_after,
)
from storage.wal.framing import encode_frame, encode_frames
from storage.wal.naming import segment_file_name
from storage.wal.segment import parse_open_segment
from tests.support.wal import SEGMENT_AGE_S

STREAM = "us/n1"


def write_segment(directory: Path, first_seq: int, records: list[bytes], *, sealed: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / segment_file_name(first_seq, sealed=sealed)
    path.write_bytes(encode_frames(records))
    return path


def three_segments(directory: Path) -> None:
    """1.seg holds 1..3, 4.seg holds 4..5, 6.open holds 6..7."""
    write_segment(directory, 1, [b"1", b"2", b"3"], sealed=True)
    write_segment(directory, 4, [b"4", b"5"], sealed=True)
    write_segment(directory, 6, [b"6", b"7"], sealed=False)


def test_list_segments_describes_each_segment(tmp_path: Path) -> None:
    three_segments(tmp_path)
    (tmp_path / "stream").write_text(STREAM)  # files that are not segments are ignored
    assert list_segments(tmp_path) == [
        SegmentInfo(tmp_path / segment_file_name(1, sealed=True), 1, True, 3, 3),
        SegmentInfo(tmp_path / segment_file_name(4, sealed=True), 4, True, 5, 2),
        SegmentInfo(tmp_path / segment_file_name(6, sealed=False), 6, False),
    ]


def test_the_newest_sealed_segment_is_counted_when_no_open_one_follows(tmp_path: Path) -> None:
    write_segment(tmp_path, 1, [b"1", b"2", b"3"], sealed=True)
    write_segment(tmp_path, 4, [b"4", b"5"], sealed=True)
    assert [(info.last_seq, info.records) for info in list_segments(tmp_path)] == [(3, 3), (5, 2)]
    (tmp_path / "empty").mkdir()
    assert list_segments(tmp_path / "empty") == []


def test_sealed_segments_after_a_seq(tmp_path: Path) -> None:
    three_segments(tmp_path)
    firsts = {
        after: [info.first_seq for info in sealed_segments_after(tmp_path, after)]
        for after in range(7)
    }
    assert firsts == {0: [1, 4], 1: [1, 4], 2: [1, 4], 3: [4], 4: [4], 5: [], 6: []}


def test_iter_records_after_a_seq_with_and_without_the_open_segment(tmp_path: Path) -> None:
    three_segments(tmp_path)
    every = [(seq, str(seq).encode()) for seq in range(1, 8)]
    for after in range(8):
        assert list(iter_records(tmp_path, after_seq=after)) == every[after:]
    assert list(iter_records(tmp_path, include_open=False)) == every[:5]
    assert list(iter_records(tmp_path, after_seq=2, include_open=False)) == every[2:5]


def test_read_segment_gives_positional_seqs(tmp_path: Path) -> None:
    path = write_segment(tmp_path, 41, [b"a", b"b"], sealed=True)
    assert read_segment(path) == [(41, b"a"), (42, b"b")]


def test_every_cut_of_a_frame_being_written_is_invisible(tmp_path: Path) -> None:
    # What a reader can find while the writer is in the middle of `write`.
    path = write_segment(tmp_path, 1, [b"first", b"second"], sealed=False)
    complete = path.read_bytes()
    being_written = encode_frame(b"third, not yet complete")
    for cut in range(len(being_written)):
        path.write_bytes(complete + being_written[:cut])
        assert list(iter_records(tmp_path)) == [(1, b"first"), (2, b"second")], f"cut at {cut}"
        assert path.read_bytes() == complete + being_written[:cut], "readers never write"


def test_a_segment_sealed_between_listing_and_reading_is_still_read(tmp_path: Path) -> None:
    write_segment(tmp_path, 1, [b"1"], sealed=True)
    open_path = write_segment(tmp_path, 2, [b"2", b"3"], sealed=False)
    records = iter_records(tmp_path)
    assert next(records) == (1, b"1")  # the directory was listed with 2.open in it
    open_path.rename(tmp_path / segment_file_name(2, sealed=True))  # the writer seals it
    assert list(records) == [(2, b"2"), (3, b"3")]


def test_a_bad_frame_in_a_sealed_segment_stops_readers(tmp_path: Path) -> None:
    three_segments(tmp_path)
    path = tmp_path / segment_file_name(4, sealed=True)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorruptionError) as error:
        list(iter_records(tmp_path))
    assert error.value.path == path
    assert error.value.offset == len(encode_frame(b"4"))
    # Records before the damaged segment are still readable on their own.
    assert read_segment(tmp_path / segment_file_name(1, sealed=True))[-1] == (3, b"3")


def _numbered_record(index: int, size: int) -> bytes:
    prefix = index.to_bytes(8, "big")
    return prefix + hashlib.shake_128(prefix).digest(size)


def _intact(record: bytes) -> bool:
    return _numbered_record(int.from_bytes(record[:8], "big"), len(record) - 8) == record


class ContinuousReader:
    """Re-reads a directory in a thread until stopped, checking every record it is given."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stop = threading.Event()
        self.passes: list[int] = []
        self.problems: list[str] = []
        self.torn_tails_seen = 0

    def run(self) -> None:
        while not self.stop.is_set():
            count = 0
            for seq, record in iter_records(self.directory):
                count += 1
                if seq != count or not _intact(record):
                    self.problems.append(f"seq {seq} (position {count}) is not intact")
            self.passes.append(count)
            self.torn_tails_seen += _open_segment_is_torn(self.directory)


def _open_segment_is_torn(directory: Path) -> bool:
    for info in list_segments(directory):
        if not info.sealed:
            try:
                return parse_open_segment(info.path, info.path.read_bytes()).torn_tail is not None
            except FileNotFoundError:
                return False  # sealed meanwhile
    return False


async def test_a_reader_never_sees_part_of_a_record_being_written(tmp_path: Path) -> None:
    """A writer thread lays frames down 4 KiB at a time (as the kernel copies a large write page
    by page) while a reader thread re-reads the segment: it must see whole records only."""
    path = tmp_path / segment_file_name(1, sealed=False)
    path.write_bytes(b"")
    reader = ContinuousReader(tmp_path)
    reading = asyncio.create_task(asyncio.to_thread(reader.run))

    def write_slowly() -> None:
        with path.open("ab", buffering=0) as segment:
            for index in range(20):
                frame = encode_frame(_numbered_record(index, 16 * 1024 + index * 3001))
                for start in range(0, len(frame), 4096):
                    segment.write(frame[start : start + 4096])
                    if start == 0:
                        # Mid-frame: make sure at least one whole read pass happens right now.
                        passes = len(reader.passes)
                        deadline = time.monotonic() + 2
                        while len(reader.passes) < passes + 2 and time.monotonic() < deadline:
                            time.sleep(0.0005)
                    else:
                        time.sleep(0)  # let the reader in wherever it likes

    await asyncio.to_thread(write_slowly)
    reader.stop.set()
    await reading
    assert reader.problems == []
    assert reader.torn_tails_seen > 0, "the reader never caught a frame half-written"
    assert list(iter_records(tmp_path))[-1][0] == 20


async def test_a_reader_keeps_up_with_a_writer_that_seals(tmp_path: Path) -> None:
    """The real writer, with segments sealed (renamed) under the reader's feet."""
    reader = ContinuousReader(tmp_path)
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=1 << 20, max_segment_age_s=SEGMENT_AGE_S
    ) as writer:
        reading = asyncio.create_task(asyncio.to_thread(reader.run))
        for index in range(20):
            await writer.append([_numbered_record(index, 64 * 1024 + index * 20_011)])
        reader.stop.set()
        await reading
        assert writer.stats.seals >= 3
    assert reader.problems == []
    assert len(reader.passes) > 3 and max(reader.passes) > 0, f"reader passes: {reader.passes}"
