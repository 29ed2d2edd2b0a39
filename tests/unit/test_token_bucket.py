"""Token bucket arithmetic with an injected clock, and the load limits built on it: what is
taken, when a refused request takes nothing, and the Retry-After each refusal carries."""

from __future__ import annotations

import pytest

from api.ingest.batch import MAX_EVENTS
from api.ingest.errors import Throttled
from api.ingest.limits import InFlightBudget, TenantBuckets
from api.ingest.token_bucket import TokenBucket, retry_after_s
from ledger.limits_config import LARGEST_BATCH_EVENTS, LimitsConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_starts_full_and_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = TokenBucket(rate=10, burst=100, now=0.0)
    assert bucket.wait_s(100, 0.0) == 0.0
    bucket.take(100, 0.0)
    # Empty: 30 tokens take 3 s at 10/s; after 2 s, 20 are there and 10 are missing (1 s).
    assert bucket.wait_s(30, 0.0) == pytest.approx(3.0)
    assert bucket.wait_s(30, 2.0) == pytest.approx(1.0)
    assert bucket.wait_s(20, 2.0) == 0.0
    # Never more than the burst, however long it was idle.
    assert bucket.is_full(60.0)
    bucket.take(100, 60.0)
    assert bucket.wait_s(1, 60.0) == pytest.approx(0.1)


def test_bucket_refuses_to_take_more_than_it_holds_and_a_cost_over_its_burst() -> None:
    bucket = TokenBucket(rate=1, burst=5, now=0.0)
    bucket.take(5, 0.0)
    with pytest.raises(ValueError, match="at most"):
        bucket.take(1, 0.5)
    with pytest.raises(ValueError, match="burst 5"):
        bucket.wait_s(6, 100.0)


def test_bucket_gains_nothing_from_a_clock_going_backwards() -> None:
    bucket = TokenBucket(rate=10, burst=10, now=5.0)
    bucket.take(10, 5.0)
    assert bucket.wait_s(10, 4.0) == pytest.approx(1.0)
    assert not bucket.is_full(4.0)


@pytest.mark.parametrize(
    ("wait", "header"), [(0.001, 1), (0.999, 1), (1.0, 1), (1.01, 2), (7.5, 8)]
)
def test_retry_after_is_whole_seconds_rounded_up_at_least_one(wait: float, header: int) -> None:
    assert retry_after_s(wait) == header


def test_a_batch_over_one_tenants_rate_is_refused_whole_and_takes_nothing() -> None:
    clock = FakeClock()
    config = LimitsConfig(events_per_s=100, events_burst=1000)
    buckets = TenantBuckets(config, "us", clock)
    buckets.admit_events({"acme": 900, "globex": 900})
    # acme holds 100, globex 100: a batch of 50 + 150 fails on globex (50 missing: 0.5 s)...
    with pytest.raises(Throttled) as refused:
        buckets.admit_events({"acme": 50, "globex": 150})
    assert (refused.value.reason, refused.value.retry_after_s) == ("tenant_rate", 1)
    assert "'globex'" in refused.value.message
    # ...and took nothing from acme: its 100 are all there.
    buckets.admit_events({"acme": 100})
    with pytest.raises(Throttled) as again:
        buckets.admit_events({"acme": 250})
    assert again.value.retry_after_s == 3  # 250 missing at 100/s: 2.5 s, rounded up
    clock.now += 2.5
    buckets.admit_events({"acme": 250})


def test_overrides_give_one_tenant_its_own_buckets_and_reads_are_counted_apart() -> None:
    clock = FakeClock()
    config = LimitsConfig(
        reads_per_s=1, reads_burst=2, tenants={"acme": {"reads_per_s": 10, "reads_burst": 20}}
    )
    buckets = TenantBuckets(config, "us", clock)
    for _ in range(20):
        buckets.admit_read("acme")
    buckets.admit_read("globex")
    buckets.admit_read("globex")
    with pytest.raises(Throttled) as refused:
        buckets.admit_read("globex")
    assert refused.value.retry_after_s == 1
    # Reads spent nothing of the event bucket.
    buckets.admit_events({"globex": config.events_burst})


def test_refilled_buckets_are_forgotten_once_many_tenants_were_seen() -> None:
    # A read may name any tenant: the table of buckets must not grow with every name ever seen.
    clock = FakeClock()
    buckets = TenantBuckets(LimitsConfig(reads_per_s=1, reads_burst=1), "us", clock)
    for n in range(10_001):
        clock.now += 0.001  # each bucket is full again a second (1,000 names) later
        buckets.admit_read(f"t{n}")
    assert len(buckets._buckets) <= 1_001
    # The last second's tenants are remembered: still empty, still refused.
    with pytest.raises(Throttled):
        buckets.admit_read("t10000")


def test_in_flight_budget_refuses_beyond_its_maximum_until_one_leaves() -> None:
    budget = InFlightBudget(LimitsConfig(max_in_flight=2, in_flight_retry_after_s=3), "us")
    budget.enter()
    budget.enter()
    with pytest.raises(Throttled) as refused:
        budget.enter()
    assert (refused.value.reason, refused.value.retry_after_s) == ("node_in_flight", 3)
    budget.leave()
    budget.enter()


def test_event_burst_is_at_least_the_largest_batch() -> None:
    # A smaller burst would answer a well-formed batch 429 forever.
    assert LARGEST_BATCH_EVENTS == MAX_EVENTS
    with pytest.raises(ValueError, match="events_burst"):
        LimitsConfig(tenants={"acme": {"events_burst": MAX_EVENTS - 1}})
    with pytest.raises(ValueError, match=r"limits\.tenants\.Bad"):
        LimitsConfig(tenants={"Bad": {}})
