"""WalWriter: group commit, sealing, locking, failure handling."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.wal import (
    MAX_RECORD_BYTES,
    EmptyRecordError,
    InvalidStreamNameError,
    RecordTooLargeError,
    WalClosedError,
    WalFailedError,
    WalLockedError,
    WalStreamMismatchError,
    WalWriter,
    iter_records,
    list_segments,
    read_segment,
    stream_directory,
)
from storage.wal.framing import HEADER_BYTES
from storage.wal.naming import segment_file_name
from tests.support.wal import SEGMENT_AGE_S, SEGMENT_BYTES, SEGMENT_LIMITS

STREAM = "us/n1"


async def eventually(condition: Callable[[], bool]) -> None:
    """Poll the file system (which has no events to wait on) for up to 5 s."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met within 5 s")


def layout(directory: Path) -> list[tuple[int, int | None, bool]]:
    return [(info.first_seq, info.last_seq, info.sealed) for info in list_segments(directory)]


class CountingFsync:
    """os.fsync that counts its calls, optionally slow (a busy disk) or failing from a given call
    on (a dying one)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.fail_from_call: int | None = None

    def __call__(self, fd: int) -> None:
        self.calls += 1
        if self.fail_from_call is not None and self.calls >= self.fail_from_call:
            raise OSError(errno.EIO, "Input/output error")
        time.sleep(self.delay)
        os.fsync(fd)


# -- appending -----------------------------------------------------------------------------------


async def test_appends_get_contiguous_seqs_and_read_back(tmp_path: Path) -> None:
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert await writer.append([b"a", b"b", b"c"]) == [1, 2, 3]
        assert await writer.append([]) == []
        assert await writer.append([b"d"]) == [4]
        assert writer.last_seq == 4
        assert writer.last_record() == b"d"
    assert list(iter_records(tmp_path)) == [(1, b"a"), (2, b"b"), (3, b"c"), (4, b"d")]


async def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    fsync = CountingFsync(delay=0.005)
    groups: list[tuple[int, float]] = []

    async def appender(index: int) -> list[int]:
        await asyncio.sleep(index * 0.0005)  # arrive spread over ~25 ms, not all at once
        return await writer.append([b"%d-first" % index, b"%d-second" % index])

    async with await WalWriter.open(
        tmp_path,
        STREAM,
        **SEGMENT_LIMITS,
        fsync=fsync,
        on_commit=lambda n, s: groups.append((n, s)),
    ) as writer:
        calls_before = fsync.calls
        results = await asyncio.gather(*(appender(index) for index in range(50)))
        fsyncs = fsync.calls - calls_before
    # Each append's two records are adjacent, and together they are exactly 1..100.
    for index, seqs in enumerate(results):
        assert seqs[1] == seqs[0] + 1
        assert dict(iter_records(tmp_path))[seqs[0]] == b"%d-first" % index
    assert sorted(seq for seqs in results for seq in seqs) == list(range(1, 101))
    # 50 appends, far fewer commits: the appends that arrive during one fsync share the next.
    assert sum(records for records, _ in groups) == 100
    assert len(groups) <= 12, f"expected group commit, got {len(groups)} commits for 50 appends"
    assert fsyncs <= len(groups) + 1  # + the directory fsync that created the segment
    assert all(seconds >= 0.005 for _, seconds in groups)
    assert writer.stats.groups == len(groups)


async def test_a_record_that_cannot_be_framed_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        with pytest.raises(RecordTooLargeError, match=f"got {MAX_RECORD_BYTES + 1} bytes"):
            await writer.append([b"fine", bytes(MAX_RECORD_BYTES + 1)])
        with pytest.raises(EmptyRecordError):
            await writer.append([b"fine", b""])
        assert writer.last_seq == 0
        assert await writer.append([b"\x01" * MAX_RECORD_BYTES]) == [1]
    assert [len(data) for _, data in iter_records(tmp_path)] == [MAX_RECORD_BYTES]


async def test_an_appender_cancelled_before_its_group_is_written_writes_nothing(
    tmp_path: Path,
) -> None:
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        cancelled = asyncio.create_task(writer.append([b"never"]))
        await asyncio.sleep(0)  # queued, not yet drained by the committer
        cancelled.cancel()
        assert await writer.append([b"kept"]) == [1]
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    assert list(iter_records(tmp_path)) == [(1, b"kept")]


async def test_a_raising_on_commit_hook_does_not_break_the_writer(tmp_path: Path) -> None:
    def hook(records: int, seconds: float) -> None:
        raise RuntimeError("metrics backend down")

    async with await WalWriter.open(tmp_path, STREAM, on_commit=hook, **SEGMENT_LIMITS) as writer:
        assert await writer.append([b"a"]) == [1]
        assert await writer.append([b"b"]) == [2]


# -- sealing -------------------------------------------------------------------------------------


async def test_segments_are_sealed_by_size_before_they_would_overflow(tmp_path: Path) -> None:
    record = b"r" * 40  # 48 bytes framed: two fit in 100 bytes, three do not
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=100, max_segment_age_s=SEGMENT_AGE_S
    ) as writer:
        for _ in range(5):
            await writer.append([record])
        assert layout(tmp_path) == [(1, 2, True), (3, 4, True), (5, None, False)]
        assert writer.stats.seals == 2
    for info in list_segments(tmp_path)[:-1]:
        assert info.path.stat().st_size == 2 * (HEADER_BYTES + 40)


async def test_a_segment_reaching_the_size_limit_is_sealed_after_the_ack(tmp_path: Path) -> None:
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=100, max_segment_age_s=SEGMENT_AGE_S
    ) as writer:
        await writer.append([b"x" * 42, b"y" * 42])  # exactly 100 bytes framed
        await eventually(lambda: layout(tmp_path) == [(1, 2, True)])
        # The next record starts a new open segment named after its seq.
        assert await writer.append([b"z"]) == [3]
        assert layout(tmp_path) == [(1, 2, True), (3, None, False)]


async def test_an_append_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=100, max_segment_age_s=SEGMENT_AGE_S
    ) as writer:
        await writer.append([b"small"])
        await writer.append([b"big" * 30, b"bigger" * 20])  # one append is never split
        await eventually(lambda: layout(tmp_path) == [(1, 1, True), (2, 3, True)])
    assert [seq for seq, _ in read_segment(list_segments(tmp_path)[1].path)] == [2, 3]


async def test_one_group_can_fill_several_segments(tmp_path: Path) -> None:
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=64, max_segment_age_s=SEGMENT_AGE_S
    ) as writer:
        records = [[b"%02d" % index * 10] for index in range(20)]  # 28 bytes framed each
        results = await asyncio.gather(*(writer.append(batch) for batch in records))
        assert writer.stats.groups == 1
    assert sorted(seqs[0] for seqs in results) == list(range(1, 21))
    infos = list_segments(tmp_path)
    assert all(info.records == 2 for info in infos if info.sealed)
    assert [data for _, data in iter_records(tmp_path)] == [
        records[index][0] for index in sorted(range(20), key=lambda index: results[index][0])
    ]


async def test_an_idle_segment_is_sealed_by_age(tmp_path: Path) -> None:
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=SEGMENT_BYTES, max_segment_age_s=0.05
    ) as writer:
        started = time.monotonic()
        await writer.append([b"lonely"])
        await eventually(lambda: layout(tmp_path) == [(1, 1, True)])
        assert time.monotonic() - started >= 0.05
        # Nothing new arrives: no empty open segment is created, so nothing more is sealed.
        await asyncio.sleep(0.15)
        assert layout(tmp_path) == [(1, 1, True)]
        assert await writer.append([b"next"]) == [2]
        # (stats count a seal once its directory fsync is done, just after the rename shows)
        await eventually(lambda: writer.stats.seals == 2)
        assert layout(tmp_path) == [(1, 1, True), (2, 2, True)]


async def test_a_busy_segment_is_sealed_by_age_too(tmp_path: Path) -> None:
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=SEGMENT_BYTES, max_segment_age_s=0.05
    ) as writer:
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            await writer.append([b"steady"])
        sealed = [info for info in list_segments(tmp_path) if info.sealed]
        assert len(sealed) >= 3, f"expected a seal about every 50 ms, got {len(sealed)}"


async def test_seal_on_demand_and_close_does_not_seal(tmp_path: Path) -> None:
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert await writer.seal() is None  # nothing to seal
        await writer.append([b"a", b"b"])
        sealed = await writer.seal()
        assert sealed is not None
        assert (sealed.first_seq, sealed.last_seq, sealed.records, sealed.sealed) == (1, 2, 2, True)
        assert sealed.path == tmp_path / segment_file_name(1, sealed=True)
        assert await writer.seal() is None  # sealed already; no empty segment to seal
        await writer.append([b"c"])
    assert layout(tmp_path) == [(1, 2, True), (3, None, False)]


# -- ownership -----------------------------------------------------------------------------------


async def test_a_second_writer_is_locked_out_until_the_first_closes(tmp_path: Path) -> None:
    first = await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    with pytest.raises(WalLockedError, match=f"held by pid {os.getpid()}"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    await first.close()
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as second:
        assert await second.append([b"mine now"]) == [1]


async def test_a_writer_in_another_process_is_locked_out(tmp_path: Path) -> None:
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from storage.wal import WalWriter, WalLockedError\n"
        "try:\n"
        f"    limits = {SEGMENT_LIMITS!r}\n"
        f"    asyncio.run(WalWriter.open(Path({str(tmp_path)!r}), {STREAM!r}, **limits))\n"
        "except WalLockedError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS):
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True
        )
    assert result.returncode == 3, result.stderr
    assert f"held by pid {os.getpid()}" in result.stdout


async def test_a_directory_belongs_to_one_stream(tmp_path: Path) -> None:
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        await writer.append([b"us record"])
    with pytest.raises(WalStreamMismatchError, match="hold stream 'eu/n1', but it holds stream"):
        await WalWriter.open(tmp_path, "eu/n1", **SEGMENT_LIMITS)
    with pytest.raises(InvalidStreamNameError, match="got 'US'"):
        await WalWriter.open(tmp_path, "US", **SEGMENT_LIMITS)


async def test_stream_directory_nests_region_and_node(tmp_path: Path) -> None:
    directory = stream_directory(tmp_path, "eu-west/node-2")
    assert directory == tmp_path / "eu-west" / "node-2"
    async with await WalWriter.open(directory, "eu-west/node-2", **SEGMENT_LIMITS) as writer:
        assert await writer.append([b"x"]) == [1]
    with pytest.raises(InvalidStreamNameError):
        stream_directory(tmp_path, "eu-west/node-2/extra")


# -- failure -------------------------------------------------------------------------------------


@pytest.mark.parametrize("failing_call", [1, 2], ids=["directory-fsync", "data-fsync"])
async def test_a_failed_fsync_fails_the_whole_group_and_the_writer(
    tmp_path: Path, failing_call: int
) -> None:
    fsync = CountingFsync(delay=0.002)
    writer = await WalWriter.open(tmp_path, STREAM, fsync=fsync, **SEGMENT_LIMITS)
    assert await writer.append([b"durable"]) == [1]
    await writer.seal()  # the next group must create a segment: directory fsync, then data fsync
    # Fail the failing_call-th fsync from here on, and every later one.
    fsync.fail_from_call = fsync.calls + failing_call
    outcomes = await asyncio.gather(
        *(writer.append([b"lost %d" % index]) for index in range(10)), return_exceptions=True
    )
    errors = [outcome for outcome in outcomes if isinstance(outcome, WalFailedError)]
    assert len(errors) == 10, outcomes
    assert all(isinstance(error.__cause__, WalFailedError) for error in errors)
    assert "Input/output error" in str(errors[0])
    assert writer.failed and writer.last_seq == 1
    # Never retried over: exactly one fsync call failed, and nothing more is attempted.
    calls_after_failure = fsync.calls
    assert calls_after_failure == fsync.fail_from_call
    with pytest.raises(WalFailedError):
        await writer.append([b"refused"])
    with pytest.raises(WalFailedError):
        await writer.seal()
    await asyncio.sleep(0.05)
    assert fsync.calls == calls_after_failure
    await writer.close()
    # A new writer (after the operator fixed the disk) recovers what the disk really holds.
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as reopened:
        assert reopened.last_seq >= 1
        assert dict(iter_records(tmp_path))[1] == b"durable"


async def test_close_commits_what_is_queued_then_refuses_appends(tmp_path: Path) -> None:
    writer = await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    queued = [asyncio.create_task(writer.append([b"%d" % index])) for index in range(5)]
    await asyncio.sleep(0)
    await writer.close()
    assert sorted(seqs[0] for seqs in await asyncio.gather(*queued)) == [1, 2, 3, 4, 5]
    assert writer.closed
    with pytest.raises(WalClosedError):
        await writer.append([b"late"])
    await writer.close()  # closing twice is harmless
