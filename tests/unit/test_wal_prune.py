"""Pruning shipped segments from a WAL directory: each condition alone keeps a segment, the
checkpoint moves before any file goes, and everything that reads the directory copes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from storage.wal import (
    PruneLimits,
    WalCorruptionError,
    WalPrunedError,
    WalWriter,
    iter_records,
    list_segments,
    prune_shipped,
    read_checkpoint,
    sealed_segments_after,
)
from storage.wal.naming import segment_file_name
from tests.support.wal import SEGMENT_BYTES, SEGMENT_LIMITS
from tests.unit.test_wal_recovery import record

STREAM = "us/n1"
HEAD = "ab" * 32
SEGMENTS, PER_SEGMENT = 6, 3
LAST = SEGMENTS * PER_SEGMENT


async def _write(directory: Path) -> None:
    """SEGMENTS sealed segments of PER_SEGMENT records (1-3, 4-6, ... 16-18), recorded in the
    checkpoint, then sealed an hour ago."""
    async with await WalWriter.open(directory, STREAM, **SEGMENT_LIMITS) as writer:
        for index in range(SEGMENTS):
            first = index * PER_SEGMENT + 1
            await writer.append([record(seq) for seq in range(first, first + PER_SEGMENT)])
            await writer.seal()
    _age(directory, 3600)


def _age(directory: Path, seconds: float, first_seqs: range | None = None) -> None:
    """Set the mtime of segments (all, or those starting at `first_seqs`) `seconds` back."""
    then = time.time() - seconds
    for info in list_segments(directory):
        if first_seqs is None or info.first_seq in first_seqs:
            os.utime(info.path, (then, then))


def _limits(**changes: float | int | str) -> PruneLimits:
    values: dict[str, float | int | str] = {
        "shipped_through_seq": LAST,
        "manifest_sha256": HEAD,
        "applied_through_seq": LAST,
        "retain_s": 60.0,
        "now_s": time.time(),
    }
    values.update(changes)
    return PruneLimits(**values)  # type: ignore[arg-type]


def _first_seqs(directory: Path) -> list[int]:
    return [info.first_seq for info in list_segments(directory)]


async def test_everything_shipped_applied_and_old_goes_except_the_newest(tmp_path: Path) -> None:
    await _write(tmp_path)
    size = sum(info.path.stat().st_size for info in list_segments(tmp_path)[:-1])
    result = prune_shipped(tmp_path, _limits())
    assert (result.segments, result.bytes, result.first_retained_seq) == (5, size, 16)
    assert _first_seqs(tmp_path) == [16]
    checkpoint = read_checkpoint(tmp_path)
    assert (checkpoint.first_retained_seq, checkpoint.sealed_through_seq) == (16, LAST)
    assert (checkpoint.shipped_through_seq, checkpoint.manifest_sha256) == (LAST, HEAD)
    assert checkpoint.pruned_sealed_at_ms > 0
    # Nothing more may go: a second prune changes nothing.
    assert prune_shipped(tmp_path, _limits()).segments == 0


@pytest.mark.parametrize(
    ("condition", "limits"),
    [
        ("manifest not committed in every target", {"shipped_through_seq": 8}),
        ("not applied by the node's dedup store", {"applied_through_seq": 8}),
        ("younger than the retention", {"retain_s": 7200.0}),
    ],
)
async def test_a_segment_failing_one_condition_stays(
    tmp_path: Path, condition: str, limits: dict[str, float | int]
) -> None:
    await _write(tmp_path)
    result = prune_shipped(tmp_path, _limits(**limits))
    if "retention" in condition:
        assert result.segments == 0, condition
        assert _first_seqs(tmp_path) == [1, 4, 7, 10, 13, 16]
    else:
        # Seqs 1-6 qualify; 7-9 is only partly shipped / applied, so it and everything after
        # it stays.
        assert result.first_retained_seq == 7, condition
        assert _first_seqs(tmp_path) == [7, 10, 13, 16]
    assert [seq for seq, _ in iter_records(tmp_path, result.first_retained_seq - 1)] == list(
        range(result.first_retained_seq, LAST + 1)
    )


async def test_only_a_prefix_goes_a_young_segment_keeps_the_older_after_it(tmp_path: Path) -> None:
    await _write(tmp_path)
    _age(tmp_path, 0, range(7, 8))  # segment 7-9 was sealed just now (clock stepped back)
    assert prune_shipped(tmp_path, _limits()).first_retained_seq == 7
    assert _first_seqs(tmp_path) == [7, 10, 13, 16]


async def test_segments_the_writer_has_not_recorded_stay(tmp_path: Path) -> None:
    """A crash before the writer's checkpoint update: the next start reads those segments, so
    they stay until a writer records them."""
    writer = await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=SEGMENT_BYTES, max_segment_age_s=60
    )
    for seq in range(1, 6):
        await writer.append([record(seq)])
        await writer.seal()
    await writer.append([record(6)])  # busy: no idle checkpoint either
    writer._lock.release()  # as a SIGKILL leaves it: the checkpoint was never advanced
    _age(tmp_path, 3600)
    assert prune_shipped(tmp_path, _limits()).segments == 0
    await writer.close()  # records sealed-through 5
    assert prune_shipped(tmp_path, _limits()).first_retained_seq == 5


async def test_the_writer_restarts_after_pruning_and_continues_gap_free(tmp_path: Path) -> None:
    await _write(tmp_path)
    prune_shipped(tmp_path, _limits())
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert (writer.last_seq, writer.last_record()) == (LAST, record(LAST))
        assert await writer.append([b"after"]) == [LAST + 1]
        await writer.seal()
        assert await writer.append([b"open"]) == [LAST + 2]
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert writer.last_seq == LAST + 2
    assert [seq for seq, _ in iter_records(tmp_path, 15)] == list(range(16, LAST + 3))


async def test_readers_ask_for_pruned_records_and_are_told(tmp_path: Path) -> None:
    await _write(tmp_path)
    prune_shipped(tmp_path, _limits(applied_through_seq=9))
    with pytest.raises(WalPrunedError, match=r"keeps seqs from 10 on: seqs 4\.\.9 were pruned"):
        next(iter_records(tmp_path, after_seq=3))
    # The ship listing lists what is retained.
    assert [s.first_seq for s in sealed_segments_after(tmp_path, 9)] == [10, 13, 16]


async def test_a_segment_pruned_while_it_is_read_is_reported_as_pruned(tmp_path: Path) -> None:
    await _write(tmp_path)
    reading = iter_records(tmp_path, after_seq=0)
    assert next(reading)[0] == 1  # the listing is taken, segment 1-3 is being read
    prune_shipped(tmp_path, _limits(applied_through_seq=9))
    assert [next(reading)[0] for _ in range(2)] == [2, 3]
    with pytest.raises(WalPrunedError, match="keeps seqs from 10 on"):
        next(reading)


async def test_a_segment_missing_below_the_checkpoint_is_still_damage(tmp_path: Path) -> None:
    await _write(tmp_path)
    reading = iter_records(tmp_path, after_seq=0)
    next(reading)
    (tmp_path / segment_file_name(4, sealed=True)).unlink()  # not pruned: lost
    with pytest.raises(WalCorruptionError, match=r"retained segment .* disappeared"):
        list(reading)


async def test_a_damaged_layout_stops_a_prune_before_it_deletes(tmp_path: Path) -> None:
    await _write(tmp_path)
    (tmp_path / segment_file_name(8, sealed=False)).write_bytes(b"")
    with pytest.raises(WalCorruptionError, match="open segment to be the newest"):
        prune_shipped(tmp_path, _limits())
    assert read_checkpoint(tmp_path).first_retained_seq == 1
    assert (tmp_path / segment_file_name(1, sealed=True)).exists()
