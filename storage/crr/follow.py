"""How long a run follows its source for new work (a ship run its WAL directory, a replay run its
region's store) before it returns to its workflow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FollowLimits:
    """Up to `first_wait_s` for the first item, then until `idle_s` pass with nothing new,
    `max_s` since the run started, or `max_segments` done. At most `batch` segments are listed at
    a time, and the source is looked at at least every `interval_s`."""

    first_wait_s: float
    idle_s: float
    max_s: float
    max_segments: int
    batch: int
    interval_s: float

    def wait_until(self, started: float, last_new: float, done: int) -> float:
        """When a run that started at `started`, last found work at `last_new` (`started` if
        never) and has done `done` segments stops waiting for more (monotonic seconds)."""
        quiet_s = self.idle_s if done else self.first_wait_s
        return min(last_new + quiet_s, started + self.max_s)
