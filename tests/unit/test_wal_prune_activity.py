"""The ship worker's pruner: throttled to once per 1/60 of the retention, and a failure never
fails the ship run it follows (the real-store path is tests/integration/test_wal_prune_crr.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from activities.wal_prune import PRUNE_ERRORS, ShippedWalPruner
from storage.wal import WalWriter, list_segments
from tests.support.wal import SEGMENT_LIMITS
from tests.unit.test_wal_recovery import record

STREAM = "us/n1"
HEAD = "ab" * 32


async def _write(directory: Path, segments: int) -> None:
    async with await WalWriter.open(directory, STREAM, **SEGMENT_LIMITS) as writer:
        for seq in range(1, segments + 1):
            await writer.append([record(seq)])
            await writer.seal()
    then = time.time() - 7200
    for info in list_segments(directory):
        os.utime(info.path, (then, then))


def _first_seqs(directory: Path) -> list[int]:
    return [info.first_seq for info in list_segments(directory)]


async def test_prunes_at_most_once_per_interval(tmp_path: Path) -> None:
    await _write(tmp_path, 6)
    asked: list[int] = []

    async def applied() -> int:
        asked.append(1)
        return 6

    pruner = ShippedWalPruner(tmp_path, STREAM, retain_s=3600.0, applied_position=applied)
    await pruner.after_ship_run(3, HEAD)
    assert _first_seqs(tmp_path) == [4, 5, 6]
    # Within the minute (3600 s / 60) the next run prunes nothing, and asks nothing.
    await pruner.after_ship_run(6, HEAD)
    assert _first_seqs(tmp_path) == [4, 5, 6] and len(asked) == 1
    # Called directly, it prunes at once.
    assert (await pruner.prune(6, HEAD)).first_retained_seq == 6


async def test_a_failed_prune_is_counted_not_raised(tmp_path: Path) -> None:
    await _write(tmp_path, 3)

    async def applied() -> int:
        raise ConnectionRefusedError("dedup store down")

    before = PRUNE_ERRORS.labels(STREAM, "ConnectionRefusedError")._value.get()
    pruner = ShippedWalPruner(tmp_path, STREAM, retain_s=0.0, applied_position=applied)
    await pruner.after_ship_run(3, HEAD)
    assert PRUNE_ERRORS.labels(STREAM, "ConnectionRefusedError")._value.get() == before + 1
    assert _first_seqs(tmp_path) == [1, 2, 3]
