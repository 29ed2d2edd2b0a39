"""Hybrid logical clock: Kulkarni, Demirbas et al., "Logical Physical Clocks and Consistent
Snapshots in Globally Distributed Databases" (OPODIS 2014), Figure 5.

A timestamp is one integer, `physical_ms << 16 | logical`. Packing makes the clock's (l, c) pair
compare as a plain integer, and turns the algorithm's case analysis into `max(...)` and `+ 1`:
a logical counter that would pass 0xFFFF carries into the millisecond, so the clock stays strictly
increasing and runs ahead of the wall clock only while more than 65536 events share a millisecond
(or a peer's clock is ahead).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from ledger.errors import ClockDriftError

LOGICAL_BITS = 16
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1
MAX_HLC = (1 << 64) - 1
"""Timestamps fit an unsigned 64-bit column: 48 bits of milliseconds reach the year 10889."""


def hlc_pack(physical_ms: int, logical: int = 0) -> int:
    """The timestamp for (physical_ms, logical). Requires 0 <= logical <= 0xFFFF and a result
    within 0..MAX_HLC; raises ValueError otherwise."""
    if not 0 <= logical <= LOGICAL_MASK:
        raise ValueError(f"expected 0 <= logical <= {LOGICAL_MASK}, got {logical}")
    ts = physical_ms << LOGICAL_BITS | logical
    _check_range(ts, "timestamp")
    return ts


def hlc_physical_ms(ts: int) -> int:
    """The wall-clock part: milliseconds since the Unix epoch."""
    return ts >> LOGICAL_BITS


def hlc_logical(ts: int) -> int:
    """The counter that orders events within one millisecond."""
    return ts & LOGICAL_MASK


def hlc_to_datetime(ts: int) -> datetime:
    """The physical part as an aware UTC datetime (millisecond precision; the counter is lost)."""
    return datetime.fromtimestamp(hlc_physical_ms(ts) / 1000, tz=UTC)


def _check_range(ts: int, what: str) -> None:
    if not 0 <= ts <= MAX_HLC:
        raise ValueError(f"expected a {what} in 0..2**64-1, got {ts}")


class HybridLogicalClock:
    """A clock whose readings are strictly increasing, close to `now_ms()`, and after every
    timestamp it has observed.

    `now_ms` returns wall-clock milliseconds since the Unix epoch; it may jump backwards. `last`
    seeds the clock after a restart (the newest timestamp in the WAL) so that the clock never goes
    back across restarts, whatever the wall clock says. Thread-safe.

    `max_forward_drift_ms`, when set, bounds how far ahead of the local wall clock an observed
    timestamp may be (the epsilon of the paper): a peer with a broken clock then raises
    ClockDriftError instead of dragging every later timestamp into its future.
    """

    def __init__(
        self,
        now_ms: Callable[[], int],
        last: int = 0,
        *,
        max_forward_drift_ms: int | None = None,
    ) -> None:
        _check_range(last, "seed timestamp")
        if max_forward_drift_ms is not None and max_forward_drift_ms < 0:
            raise ValueError(f"expected max_forward_drift_ms >= 0, got {max_forward_drift_ms}")
        self._now_ms = now_ms
        self._last = last
        self._max_forward_drift_ms = max_forward_drift_ms
        self._lock = threading.Lock()

    @property
    def last(self) -> int:
        """The newest timestamp issued or observed."""
        return self._last

    def now(self) -> int:
        """A timestamp for a local or send event (Figure 5, "send or local event")."""
        with self._lock:
            return self._advance(self._wall())

    def observe(self, remote: int) -> int:
        """A timestamp for receiving `remote` (Figure 5, "receive event of message m"): after
        both `remote` and everything this clock issued before.

        Requires 0 <= remote <= MAX_HLC (ValueError otherwise); raises ClockDriftError when a
        drift bound is set and `remote` is further ahead of the wall clock than it allows.
        """
        _check_range(remote, "remote timestamp")
        with self._lock:
            wall = self._wall()
            if self._max_forward_drift_ms is not None:
                ahead_ms = hlc_physical_ms(remote) - hlc_physical_ms(wall)
                if ahead_ms > self._max_forward_drift_ms:
                    raise ClockDriftError(
                        f"expected a remote timestamp at most {self._max_forward_drift_ms} ms "
                        f"ahead of the local clock, got {ahead_ms} ms ahead ({remote})"
                    )
            return self._advance(max(wall, remote + 1))

    def _wall(self) -> int:
        # Negative readings (a badly set clock) count as the epoch rather than as an error: the
        # clock then simply runs on its logical part until the wall clock recovers.
        return hlc_pack(max(self._now_ms(), 0))

    def _advance(self, floor: int) -> int:
        # Figure 5 keeps l = max(l, pt[, l.m]) and resets c to 0 when l moved, else counts up from
        # the larger counter. With (l, c) packed into one integer and the wall clock's counter 0,
        # all of its cases are one comparison: the next timestamp is the larger of "one after the
        # last" and the floor (the wall clock, or one after the received timestamp).
        ts = max(floor, self._last + 1)
        _check_range(ts, "timestamp")
        self._last = ts
        return ts
