"""SIGKILL a prune at each of its crash points (storage/wal/prune.py) and check that nothing is
lost: the checkpoint is durable before any file goes, so a crash leaves files below the first
retained seq that every reader ignores, a writer starts over and continues gap-free, and the next
prune finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from storage.faults import CRASH_AT_ENV
from storage.wal import (
    PruneLimits,
    WalPrunedError,
    WalWriter,
    iter_records,
    list_segments,
    prune_shipped,
    read_checkpoint,
)
from storage.wal.checkpoint import checkpoint_path
from storage.wal.naming import CHECKPOINT_FILE_NAME, segment_file_name
from tests.chaos.wal_prune_process import MANIFEST_SHA256
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
    async with await WalWriter.open(directory, STREAM) as writer:
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
    async with await WalWriter.open(tmp_path, STREAM) as writer:
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
    async with await WalWriter.open(tmp_path, STREAM) as writer:
        assert writer.last_seq == LAST
    assert checkpoint_path(tmp_path).read_bytes() == before
    result = prune_shipped(tmp_path, PruneLimits(LAST, MANIFEST_SHA256, LAST, 0.0, 4e9))
    assert result.first_retained_seq == FIRST_RETAINED
    assert not (tmp_path / segment_file_name(1, sealed=True)).exists()
