"""Hybrid logical clock (Kulkarni et al. 2014) on a scripted wall clock."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime

import pytest

from ledger.errors import ClockDriftError
from ledger.hlc import (
    LOGICAL_MASK,
    MAX_HLC,
    HybridLogicalClock,
    hlc_logical,
    hlc_pack,
    hlc_physical_ms,
    hlc_to_datetime,
)

T0 = 1_738_367_999_123  # 2025-01-31T23:59:59.123Z


class ScriptedClock:
    """A wall clock that returns whatever the test sets, including jumps backwards."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_packing_round_trips() -> None:
    ts = hlc_pack(T0, 7)
    assert ts == T0 * 65536 + 7
    assert (hlc_physical_ms(ts), hlc_logical(ts)) == (T0, 7)
    assert hlc_to_datetime(ts) == datetime(2025, 1, 31, 23, 59, 59, 123000, tzinfo=UTC)


@pytest.mark.parametrize(("physical", "logical"), [(T0, -1), (T0, 65536), (1 << 48, 0), (-1, 0)])
def test_packing_rejects_out_of_range_parts(physical: int, logical: int) -> None:
    with pytest.raises(ValueError, match="expected"):
        hlc_pack(physical, logical)


def test_follows_the_wall_clock_when_it_advances() -> None:
    wall = ScriptedClock(T0)
    clock = HybridLogicalClock(wall)
    assert clock.now() == hlc_pack(T0, 0)
    wall.ms = T0 + 5
    assert clock.now() == hlc_pack(T0 + 5, 0)


def test_counts_within_one_millisecond() -> None:
    clock = HybridLogicalClock(ScriptedClock(T0))
    assert [hlc_logical(clock.now()) for _ in range(4)] == [0, 1, 2, 3]


def test_monotonic_when_the_wall_clock_jumps_backwards() -> None:
    wall = ScriptedClock(T0)
    clock = HybridLogicalClock(wall)
    readings = [clock.now()]
    for jump in (-1, -1000, -3_600_000, +10, -T0, +3_600_000):
        wall.ms += jump
        readings.append(clock.now())
        readings.append(clock.now())
    assert all(a < b for a, b in itertools.pairwise(readings))
    # While the wall clock is behind, the clock stays on the newest millisecond it has seen.
    assert hlc_physical_ms(readings[2]) == T0


def test_negative_wall_clock_readings_do_not_break_the_clock() -> None:
    clock = HybridLogicalClock(ScriptedClock(-5), last=hlc_pack(T0, 0))
    assert clock.now() == hlc_pack(T0, 1)


def test_a_seeded_restart_never_goes_below_the_seed() -> None:
    seed = hlc_pack(T0 + 60_000, 42)  # the newest WAL record, written before the clock stepped back
    wall = ScriptedClock(T0)
    clock = HybridLogicalClock(wall, last=seed)
    assert clock.last == seed
    readings = [clock.now() for _ in range(3)]
    assert readings == [seed + 1, seed + 2, seed + 3]
    wall.ms = T0 + 120_000
    assert clock.now() == hlc_pack(T0 + 120_000, 0)


def test_logical_overflow_carries_into_the_millisecond() -> None:
    clock = HybridLogicalClock(ScriptedClock(T0), last=hlc_pack(T0, LOGICAL_MASK - 1))
    assert clock.now() == hlc_pack(T0, LOGICAL_MASK)
    carried = clock.now()
    assert carried == hlc_pack(T0 + 1, 0)
    assert clock.now() == hlc_pack(T0 + 1, 1)


def test_observe_orders_after_a_remote_timestamp_ahead_of_us() -> None:
    wall = ScriptedClock(T0)
    clock = HybridLogicalClock(wall)
    remote = hlc_pack(T0 + 500, 9)
    assert clock.observe(remote) == remote + 1
    assert clock.now() == remote + 2


@pytest.mark.parametrize(
    ("last", "remote", "expected", "case"),
    [
        (hlc_pack(T0, 3), hlc_pack(T0, 8), hlc_pack(T0, 9), "same ms: max(c, c.m) + 1"),
        (hlc_pack(T0, 8), hlc_pack(T0, 3), hlc_pack(T0, 9), "same ms, ours larger"),
        (hlc_pack(T0, 8), hlc_pack(T0 - 9, 99), hlc_pack(T0, 9), "remote behind: c + 1"),
        (hlc_pack(T0 - 5, 8), hlc_pack(T0 - 9, 99), hlc_pack(T0, 0), "both behind the wall: 0"),
    ],
)
def test_observe_follows_figure_5(last: int, remote: int, expected: int, case: str) -> None:
    clock = HybridLogicalClock(ScriptedClock(T0), last=last)
    assert clock.observe(remote) == expected


def test_observe_can_be_bounded_against_a_peer_far_in_the_future() -> None:
    clock = HybridLogicalClock(ScriptedClock(T0), max_forward_drift_ms=1000)
    assert clock.observe(hlc_pack(T0 + 1000, 0)) == hlc_pack(T0 + 1000, 1)
    before = clock.last
    with pytest.raises(ClockDriftError, match="at most 1000 ms ahead"):
        clock.observe(hlc_pack(T0 + 1001 + 1000, 0))
    assert clock.last == before


@pytest.mark.parametrize("bad", [-1, MAX_HLC + 1])
def test_out_of_range_timestamps_are_rejected(bad: int) -> None:
    with pytest.raises(ValueError, match="2\\*\\*64"):
        HybridLogicalClock(ScriptedClock(T0), last=bad)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        HybridLogicalClock(ScriptedClock(T0)).observe(bad)


def test_unique_across_threads() -> None:
    clock = HybridLogicalClock(ScriptedClock(T0))
    seen: list[list[int]] = [[] for _ in range(4)]

    def run(out: list[int]) -> None:
        out.extend(clock.now() for _ in range(2000))

    threads = [threading.Thread(target=run, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [ts for out in seen for ts in out]
    assert len(set(everything)) == len(everything) == 8000
    assert all(out == sorted(out) for out in seen)


def test_tracks_a_real_clock_closely() -> None:
    clock = HybridLogicalClock(lambda: time.time_ns() // 1_000_000)
    readings = [clock.now() for _ in range(1000)]
    assert readings == sorted(set(readings))
    assert abs(hlc_physical_ms(readings[-1]) - time.time_ns() // 1_000_000) < 1000
