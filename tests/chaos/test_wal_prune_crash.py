"""SIGKILL a prune at each of its crash points (storage/wal/prune.py) and check that nothing is
lost: the checkpoint is durable before any file goes, so a crash leaves files below the first
retained seq that every reader ignores, a writer starts over and continues gap-free, and the next
prune finishes the job."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from storage.faults import CRASH_AT_ENV
from storage.wal import (
    PruneLimits,
    WalCheckpoint,
    WalPrunedError,
    WalWriter,
    iter_records,
    list_segments,
    prune_shipped,
    read_checkpoint,
    sealed_segments_after,
)
from storage.wal.checkpoint import checkpoint_path
from storage.wal.naming import CHECKPOINT_FILE_NAME, segment_file_name
from tests.chaos.wal_prune_process import MANIFEST_SHA256
from tests.support.wal import SEGMENT_LIMITS
from tests.unit.test_wal_recovery import record

REPO_ROOT = Path(__file__).resolve().parents[2]
STREAM = "us/n1"
SEGMENTS, PER_SEGMENT = 6, 3
LAST = SEGMENTS * PER_SEGMENT
# Segments 1-3 .. 13-15 may go; 16-18 is the newest and stays.
FIRST_RETAINED = LAST - PER_SEGMENT + 1
# Files a killed prune leaves below the first retained seq.
LEFT_BEHIND = {
    "wal.prune.after_checkpoint": SEGMENTS - 1,
    "wal.prune.after_first_delete": SEGMENTS - 2,
}


async def _write(directory: Path) -> None:
    async with await WalWriter.open(directory, STREAM, **SEGMENT_LIMITS) as writer:
        for index in range(SEGMENTS):
            first = index * PER_SEGMENT + 1
            await writer.append([record(seq) for seq in range(first, first + PER_SEGMENT)])
            await writer.seal()


def _prune_in_a_process(directory: Path, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != CRASH_AT_ENV}
    if crash_at is not None:
        environment[CRASH_AT_ENV] = crash_at
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.chaos.wal_prune_process",
            str(directory),
            str(LAST),
            str(LAST),
        ],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _sealed_files(directory: Path) -> list[int]:
    return sorted(int(path.stem) for path in directory.iterdir() if path.suffix == ".seg")


@pytest.mark.parametrize("crash_at", sorted(LEFT_BEHIND))
async def test_a_prune_killed_at_a_crash_point_loses_nothing(tmp_path: Path, crash_at: str) -> None:
    await _write(tmp_path)
    killed = _prune_in_a_process(tmp_path, crash_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "PRUNED" not in killed.stdout

    # The checkpoint is durable; the files below it are still (partly) there, and ignored.
    checkpoint = read_checkpoint(tmp_path)
    assert (checkpoint.first_retained_seq, checkpoint.manifest_sha256) == (
        FIRST_RETAINED,
        MANIFEST_SHA256,
    )
    assert len(_sealed_files(tmp_path)) == LEFT_BEHIND[crash_at] + 1
    assert [info.first_seq for info in list_segments(tmp_path)] == [FIRST_RETAINED]
    with pytest.raises(WalPrunedError):
        next(iter_records(tmp_path))

    # A writer starts, continues gap-free from the newest record, and its clock source (the
    # newest record) is intact.
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert (writer.last_seq, writer.last_record()) == (LAST, record(LAST))
        assert await writer.append([b"after the crash"]) == [LAST + 1]
    assert [seq for seq, _ in iter_records(tmp_path, FIRST_RETAINED - 1)] == list(
        range(FIRST_RETAINED, LAST + 2)
    )

    # The next prune finishes the job and nothing retained goes.
    finished = _prune_in_a_process(tmp_path, None)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["PRUNED", str(LEFT_BEHIND[crash_at]), str(FIRST_RETAINED)]
    assert _sealed_files(tmp_path) == [FIRST_RETAINED]
    assert [seq for seq, _ in iter_records(tmp_path, FIRST_RETAINED - 1)] == list(
        range(FIRST_RETAINED, LAST + 2)
    )


async def test_a_checkpoint_write_cut_before_its_rename_changes_nothing(tmp_path: Path) -> None:
    """A crash inside the atomic write leaves its temp file: the old checkpoint stands, and the
    next write replaces the temp file."""
    await _write(tmp_path)
    before = checkpoint_path(tmp_path).read_bytes()
    (tmp_path / f"{CHECKPOINT_FILE_NAME}.tmp").write_bytes(b'{"v": 1, "first_retai')
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert writer.last_seq == LAST
    assert checkpoint_path(tmp_path).read_bytes() == before
    result = prune_shipped(tmp_path, PruneLimits(LAST, MANIFEST_SHA256, LAST, 0.0, 4e9))
    assert result.first_retained_seq == FIRST_RETAINED
    assert not (tmp_path / segment_file_name(1, sealed=True)).exists()


async def test_prunes_racing_a_writer_and_readers_keep_every_retained_record(
    tmp_path: Path,
) -> None:
    """The writer seals (and moves the checkpoint) while a pruner deletes behind it and a reader
    reads from the first retained seq on: the checkpoint's values only grow, the reader sees
    gap-free runs or is told they were pruned, and what is retained at the end reads back."""
    stop = threading.Event()
    problems: list[BaseException] = []
    seen: list[WalCheckpoint] = []
    reads: list[int] = []

    def prune_forever() -> None:
        limits = PruneLimits(10**9, MANIFEST_SHA256, 10**9, 0.0, 4e9)
        while not stop.is_set():
            try:
                prune_shipped(tmp_path, limits)
                seen.append(read_checkpoint(tmp_path))
            except BaseException as exc:
                problems.append(exc)
                return

    def read_forever() -> None:
        while not stop.is_set():
            first = read_checkpoint(tmp_path).first_retained_seq
            try:
                seqs = [seq for seq, _ in iter_records(tmp_path, first - 1, include_open=False)]
                if seqs != list(range(first, first + len(seqs))):
                    problems.append(AssertionError(f"a gap in {seqs[:3]}..{seqs[-3:]}"))
                    return
                reads.append(len(seqs))
                sealed_segments_after(tmp_path, 0)
            except WalPrunedError:
                continue  # pruned between the checkpoint read and the segment read
            except BaseException as exc:
                problems.append(exc)
                return

    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        threads = [threading.Thread(target=prune_forever), threading.Thread(target=read_forever)]
        for thread in threads:
            thread.start()
        try:
            for seq in range(1, 401):
                await writer.append([record(seq)])
                await writer.seal()
        finally:
            stop.set()
            for thread in threads:
                await asyncio.to_thread(thread.join)
    assert problems == []
    assert len(seen) > 10 and len(reads) > 10, (len(seen), len(reads))
    for earlier, later in itertools.pairwise(seen):
        assert earlier.merged(later) == later, (earlier, later)
    # Everything was pruned that could be: all but what the writer had not yet recorded.
    assert prune_shipped(tmp_path, PruneLimits(400, MANIFEST_SHA256, 400, 0.0, 4e9)).segments >= 0
    checkpoint = read_checkpoint(tmp_path)
    assert checkpoint.sealed_through_seq == 400
    assert checkpoint.first_retained_seq == 400
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert (writer.last_seq, writer.last_record()) == (400, record(400))
