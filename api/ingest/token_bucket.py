"""A token bucket: refills at `rate` tokens per second up to `burst`, and a request takes as many
tokens as it costs, all or none.

Time is passed in (seconds of a monotonic clock), so the arithmetic is tested without sleeping.
The bucket is not thread-safe: the ingest node calls it from its event loop only.
"""

from __future__ import annotations

import math


class TokenBucket:
    """Starts full at `now`. Requires rate > 0 and burst >= 1."""

    __slots__ = ("_burst", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"expected rate > 0 and burst >= 1, got rate {rate}, burst {burst}")
        self._rate, self._burst = rate, burst
        self._tokens, self._updated = float(burst), now

    def wait_s(self, cost: int, now: float) -> float:
        """Seconds from `now` until the bucket holds `cost` tokens; 0.0 when it does already.
        Requires cost <= burst (a bucket never holds more than its burst)."""
        if cost > self._burst:
            raise ValueError(f"expected a cost of at most the burst {self._burst}, got {cost}")
        missing = cost - self._level(now)
        return missing / self._rate if missing > 0 else 0.0

    def take(self, cost: int, now: float) -> None:
        """Take `cost` tokens. Requires wait_s(cost, now) == 0.0."""
        level = self._level(now)
        if cost > level:
            raise ValueError(f"expected at most {level} tokens taken, got {cost}")
        self._tokens, self._updated = level - cost, now

    def is_full(self, now: float) -> bool:
        """True when the bucket is as a new one: forgetting it changes nothing."""
        return self._level(now) >= self._burst

    def _level(self, now: float) -> float:
        # A clock that went backwards refills nothing rather than taking tokens away.
        elapsed = max(0.0, now - self._updated)
        return min(float(self._burst), self._tokens + elapsed * self._rate)


def retry_after_s(wait_s: float) -> int:
    """The Retry-After of a wait: whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3 has no
    fractions, and 0 would invite an immediate retry the bucket still refuses)."""
    return max(1, math.ceil(wait_s))
