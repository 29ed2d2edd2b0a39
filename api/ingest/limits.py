"""Bounded load on one ingest node: each tenant's token buckets and the node's in-flight budget
(`[limits]`, ledger/limits_config.py).

A POST /v1/events batch costs each of its tenants as many event tokens as it holds events of that
tenant, a read costs its tenant one read token. A batch is admitted only if every bucket it draws
from covers it, and then takes from all of them: a refused batch takes nothing, and nothing of it
is verified or written. All of this runs on the node's event loop without awaiting in between, so
checking and taking cannot interleave with another request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Literal

from api.ingest import metrics
from api.ingest.errors import Throttled
from api.ingest.token_bucket import TokenBucket, retry_after_s
from ledger.limits_config import LimitsConfig, TenantLimits

Clock = Callable[[], float]
BucketKind = Literal["events", "reads"]

# Buckets that refilled are forgotten once a node holds more than this many (a read names any
# tenant it likes): a full bucket is a new one, so forgetting it changes no answer.
_PRUNE_ABOVE = 10_000


class TenantBuckets:
    """Every tenant's event and read buckets on this node, made on first use."""

    def __init__(self, config: LimitsConfig, region: str, clock: Clock = time.monotonic) -> None:
        self._config, self._region, self._clock = config, region, clock
        self._limits: dict[str, TenantLimits] = {}
        self._buckets: dict[tuple[str, BucketKind], TokenBucket] = {}
        self._prune_above = _PRUNE_ABOVE

    def admit_events(self, events_by_tenant: Mapping[str, int]) -> None:
        """Take each tenant's events from its event bucket, or raise Throttled and take nothing."""
        self._admit({(tenant, "events"): count for tenant, count in events_by_tenant.items()})

    def admit_read(self, tenant: str) -> None:
        """Take one read from `tenant`'s read bucket, or raise Throttled."""
        self._admit({(tenant, "reads"): 1})

    def _admit(self, costs: Mapping[tuple[str, BucketKind], int]) -> None:
        now = self._clock()
        buckets = {key: self._bucket(key, now) for key in costs}
        waits = {key: buckets[key].wait_s(cost, now) for key, cost in costs.items()}
        slowest = max(waits, key=waits.__getitem__, default=None)
        if slowest is not None and waits[slowest] > 0:
            tenant, kind = slowest
            retry_after = retry_after_s(waits[slowest])
            metrics.THROTTLED.labels(self._region, "tenant_rate").inc()
            raise Throttled(
                "tenant_rate",
                "rate_limited",
                retry_after,
                f"tenant {tenant!r} is over its {kind} rate on this node; nothing of this request "
                f"was written, retry after {retry_after}s",
            )
        for key, cost in costs.items():
            buckets[key].take(cost, now)
        self._prune(now)

    def _bucket(self, key: tuple[str, BucketKind], now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            tenant, kind = key
            limits = self._limits.get(tenant)
            if limits is None:
                limits = self._limits[tenant] = self._config.for_tenant(tenant)
            if kind == "events":
                bucket = TokenBucket(limits.events_per_s, limits.events_burst, now)
            else:
                bucket = TokenBucket(limits.reads_per_s, limits.reads_burst, now)
            self._buckets[key] = bucket
        return bucket

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= self._prune_above:
            return
        for key in [key for key, bucket in self._buckets.items() if bucket.is_full(now)]:
            del self._buckets[key]
        self._limits = {tenant: self._limits[tenant] for tenant, _ in self._buckets}
        # Many buckets still draining: prune again only once the table has doubled, so pruning
        # costs O(1) per request however many tenants are busy.
        self._prune_above = max(_PRUNE_ABOVE, 2 * len(self._buckets))


class InFlightBudget:
    """At most `config.max_in_flight` requests of this node verified and applied at once."""

    def __init__(self, config: LimitsConfig, region: str) -> None:
        self._max, self._retry_after_s = config.max_in_flight, config.in_flight_retry_after_s
        self._region = region
        self._count = 0
        self._gauge = metrics.REQUESTS_IN_FLIGHT.labels(region)

    def enter(self) -> None:
        """Count one more request in flight, or raise Throttled when the budget is spent."""
        if self._count >= self._max:
            metrics.THROTTLED.labels(self._region, "node_in_flight").inc()
            raise Throttled(
                "node_in_flight",
                "node_busy",
                self._retry_after_s,
                f"this node has {self._max} requests in flight already; retry after "
                f"{self._retry_after_s}s (another node of the region may answer sooner)",
            )
        self._count += 1
        self._gauge.inc()

    def leave(self) -> None:
        """One request answered."""
        self._count -= 1
        self._gauge.dec()


class LoadLimits:
    """What one node enforces: its tenants' buckets and its in-flight budget."""

    def __init__(self, config: LimitsConfig, region: str, clock: Clock = time.monotonic) -> None:
        self.tenants = TenantBuckets(config, region, clock)
        self.in_flight = InFlightBudget(config, region)
