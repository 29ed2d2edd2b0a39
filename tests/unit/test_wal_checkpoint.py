"""The WAL checkpoint: monotonic merges, atomic writes, refusal of anything it did not write, and
a start bounded by it (what it trusts, and the damage it refuses to trust)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from storage.wal import (
    WalCheckpoint,
    WalCorruptionError,
    WalWriter,
    iter_records,
    read_checkpoint,
)
from storage.wal.checkpoint import checkpoint_path, update_checkpoint
from storage.wal.framing import encode_frame
from storage.wal.naming import segment_file_name
from storage.wal.seal_checkpoint import IDLE_CHECKPOINT_S
from tests.support.wal import SEGMENT_BYTES, SEGMENT_LIMITS
from tests.unit.test_wal_recovery import record, write_segment

STREAM = "us/n1"
HEAD = "ab" * 32


def test_a_directory_without_checkpoint_reads_as_nothing_pruned(tmp_path: Path) -> None:
    assert read_checkpoint(tmp_path) == WalCheckpoint(first_retained_seq=1, sealed_through_seq=0)


def test_merges_never_move_a_value_back(tmp_path: Path) -> None:
    update_checkpoint(tmp_path, WalCheckpoint(sealed_through_seq=50), os.fsync)
    pruned = WalCheckpoint(
        first_retained_seq=31, shipped_through_seq=40, manifest_sha256=HEAD, pruned_sealed_at_ms=7
    )
    update_checkpoint(tmp_path, pruned, os.fsync)
    # A stale writer update and a stale prune (smaller values) change nothing.
    update_checkpoint(tmp_path, WalCheckpoint(sealed_through_seq=20), os.fsync)
    update_checkpoint(
        tmp_path,
        WalCheckpoint(first_retained_seq=11, shipped_through_seq=12, manifest_sha256="cd" * 32),
        os.fsync,
    )
    assert read_checkpoint(tmp_path) == WalCheckpoint(31, 50, 40, HEAD, 7)


def test_an_impossible_checkpoint_is_never_written(tmp_path: Path) -> None:
    # Pruning up to seq 30 while the writer has recorded nothing sealed would lose the proof of
    # where seqs stand.
    with pytest.raises(ValueError, match="segments were pruned that the writer never sealed"):
        update_checkpoint(tmp_path, WalCheckpoint(first_retained_seq=31), os.fsync)
    assert not checkpoint_path(tmp_path).exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "expected checkpoint JSON"),
        (b'{"v": 2}', "with v=1"),
        (b'{"v": 1, "first_retained_seq": 1}', "expected checkpoint fields"),
        (
            json.dumps({"v": 1, **WalCheckpoint().__dict__, "sealed_through_seq": "9"}).encode(),
            "expected sealed_through_seq to be int",
        ),
        (
            json.dumps({"v": 1, **WalCheckpoint(first_retained_seq=9).__dict__}).encode(),
            "expected sealed_through_seq >= first_retained_seq - 1",
        ),
        (
            json.dumps({"v": 1, **WalCheckpoint(manifest_sha256="XY").__dict__}).encode(),
            "64 lowercase hex digits",
        ),
    ],
)
async def test_a_damaged_checkpoint_is_a_hard_error_naming_the_file(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    write_segment(tmp_path, 1, 3, sealed=True)
    checkpoint_path(tmp_path).write_bytes(content)
    with pytest.raises(WalCorruptionError, match=reason) as caught:
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)
    assert caught.value.path == checkpoint_path(tmp_path)
    assert checkpoint_path(tmp_path).read_bytes() == content


# -- a start bounded by the checkpoint -----------------------------------------------------------


async def _write_sealed(directory: Path, segments: int) -> None:
    async with await WalWriter.open(directory, STREAM, **SEGMENT_LIMITS) as writer:
        for index in range(segments):
            await writer.append([record(index * 2 + 1), record(index * 2 + 2)])
            await writer.seal()


async def test_the_writer_records_what_it_sealed_and_a_start_reads_only_what_follows(
    tmp_path: Path,
) -> None:
    await _write_sealed(tmp_path, 40)
    # Closing recorded every seal: the next start reads no sealed segment, only the newest one
    # for its last record (the node's clock).
    assert read_checkpoint(tmp_path).sealed_through_seq == 80
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert writer.stats.segments_read_at_open == 0
        assert (writer.last_seq, writer.last_record()) == (80, record(80))
        await writer.append([record(81)])
        await writer.seal()
        await writer.append([record(82)])  # left open
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert writer.stats.segments_read_at_open == 0
        assert (writer.last_seq, writer.last_record()) == (82, record(82))
        assert await writer.append([record(83)]) == [83]
    assert [seq for seq, _ in iter_records(tmp_path)] == list(range(1, 84))


async def test_a_crashed_writer_leaves_at_most_a_few_segments_to_read(tmp_path: Path) -> None:
    """Without a close, the checkpoint lags by fewer than CHECKPOINT_EVERY_SEALS seals."""
    writer = await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=SEGMENT_BYTES, max_segment_age_s=60
    )
    for index in range(20):
        await writer.append([record(index + 1)])
        await writer.seal()
    await writer.append([record(21)])  # busy: no idle checkpoint either
    # The writer advanced it after 16 seals, beside the committer rather than in its way.
    assert writer._checkpoint._task is not None
    await writer._checkpoint._task
    assert read_checkpoint(tmp_path).sealed_through_seq == 16
    # A SIGKILL: the lock is dropped, nothing else happens.
    writer._lock.release()
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as reopened:
        assert reopened.stats.segments_read_at_open == 4
        assert reopened.last_seq == 21
    await writer.close()


async def test_an_idle_writer_records_its_seals_after_a_quiet_moment(tmp_path: Path) -> None:
    async with await WalWriter.open(
        tmp_path, STREAM, max_segment_bytes=SEGMENT_BYTES, max_segment_age_s=60
    ) as writer:
        for seq in range(1, 4):
            await writer.append([record(seq)])
            await writer.seal()
        assert read_checkpoint(tmp_path).sealed_through_seq == 0
        await asyncio.sleep(IDLE_CHECKPOINT_S + 0.5)
        assert read_checkpoint(tmp_path).sealed_through_seq == 3
        # Records in the open segment are not idle: nothing more is recorded for them.
        await writer.append([record(4)])
        await asyncio.sleep(IDLE_CHECKPOINT_S + 0.5)
        assert read_checkpoint(tmp_path).sealed_through_seq == 3


async def test_ten_thousand_sealed_segments_start_in_under_two_seconds(tmp_path: Path) -> None:
    segments = 10_000
    for seq in range(1, segments + 1):
        (tmp_path / segment_file_name(seq, sealed=True)).write_bytes(encode_frame(record(seq)))
    (tmp_path / "stream").write_text(f"{STREAM}\n")
    # The first start has no checkpoint: it reads everything once and writes one.
    started = time.perf_counter()
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert writer.stats.segments_read_at_open == segments
    unbounded = time.perf_counter() - started
    assert read_checkpoint(tmp_path).sealed_through_seq == segments

    started = time.perf_counter()
    async with await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS) as writer:
        assert writer.stats.segments_read_at_open == 0
        assert (writer.last_seq, writer.last_record()) == (segments, record(segments))
    bounded = time.perf_counter() - started
    # The node's start reads the WAL after its dedup position (here: the end) the same way.
    started = time.perf_counter()
    assert list(iter_records(tmp_path, after_seq=segments)) == []
    catch_up_read = time.perf_counter() - started
    print(f"start: {unbounded:.3f} s unbounded, {bounded:.3f} s bounded; {catch_up_read:.3f} s")
    assert bounded + catch_up_read < 2.0
    assert bounded < unbounded


# -- a checkpoint that does not match the segments -------------------------------------------


async def _checkpointed_directory(directory: Path) -> None:
    """Segments 1-2, 3-4, 5-6 sealed and recorded; 7 open."""
    await _write_sealed(directory, 3)
    async with await WalWriter.open(directory, STREAM, **SEGMENT_LIMITS) as writer:
        await writer.append([record(7)])


async def test_a_checkpoint_pointing_past_the_segments_is_refused(tmp_path: Path) -> None:
    await _write_sealed(tmp_path, 3)
    update_checkpoint(tmp_path, WalCheckpoint(sealed_through_seq=9), os.fsync)
    with pytest.raises(WalCorruptionError, match=r"end at seq 9 .*got 6: the checkpoint points"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


async def test_a_checkpoint_past_an_open_segment_is_refused(tmp_path: Path) -> None:
    await _checkpointed_directory(tmp_path)
    update_checkpoint(tmp_path, WalCheckpoint(sealed_through_seq=8), os.fsync)
    with pytest.raises(WalCorruptionError, match="expected a sealed segment holding seq 8"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


async def test_a_checkpoint_inside_a_segment_is_refused(tmp_path: Path) -> None:
    await _checkpointed_directory(tmp_path)
    # Hand-edited: seq 3 is not the end of a sealed segment (3-4 is one).
    data = json.loads(checkpoint_path(tmp_path).read_bytes())
    checkpoint_path(tmp_path).write_text(json.dumps({**data, "sealed_through_seq": 3}))
    with pytest.raises(WalCorruptionError, match=r"\.seg to start at seq 4 .*got 5"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


async def test_lost_newest_segments_are_refused(tmp_path: Path) -> None:
    await _write_sealed(tmp_path, 3)
    (tmp_path / segment_file_name(5, sealed=True)).unlink()
    with pytest.raises(WalCorruptionError, match=r"end at seq 6 .*got 4: the checkpoint points"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


async def test_a_gap_after_the_first_retained_seq_is_refused(tmp_path: Path) -> None:
    await _write_sealed(tmp_path, 4)
    update_checkpoint(tmp_path, WalCheckpoint(first_retained_seq=3), os.fsync)
    (tmp_path / segment_file_name(1, sealed=True)).unlink()
    # Seqs 3-4 vanished too: the first retained segment is not where the checkpoint says.
    (tmp_path / segment_file_name(3, sealed=True)).unlink()
    for open_it in (
        lambda: WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS),
        lambda: _first_record(tmp_path),
    ):
        with pytest.raises(
            WalCorruptionError,
            match=r"first retained segment to start at seq 3 .*got 5: seqs 3..4 are missing",
        ):
            await open_it()


async def test_a_checkpoint_with_no_segment_left_is_refused(tmp_path: Path) -> None:
    await _write_sealed(tmp_path, 2)
    update_checkpoint(tmp_path, WalCheckpoint(first_retained_seq=3), os.fsync)
    for seq in (1, 3):
        (tmp_path / segment_file_name(seq, sealed=True)).unlink()
    with pytest.raises(WalCorruptionError, match=r"expected segments from seq 3 on .*got none"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


async def test_a_gap_after_the_checkpoint_is_still_found(tmp_path: Path) -> None:
    await _write_sealed(tmp_path, 2)  # sealed through 4, recorded
    write_segment(tmp_path, 5, 2, sealed=True)  # 5-6, not recorded
    write_segment(tmp_path, 9, 1, sealed=False)  # 7-8 missing
    with pytest.raises(WalCorruptionError, match=r"start at seq 7 .*got 9: seqs have a gap"):
        await WalWriter.open(tmp_path, STREAM, **SEGMENT_LIMITS)


async def _first_record(directory: Path) -> None:
    next(iter_records(directory), None)
