"""From a region's per-shard tier statistics to the tier gauges: sums over shards, the
compression ratio estimate, the demotion lag against each TTL, and series of gone tenants."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from ledger.tier_policy import TierPolicy
from storage.tiering.gauges import TierGauges
from storage.tiering.stats import DAY_MS, merge_shard_stats

NOW_MS = 400 * DAY_MS
POLICY = TierPolicy(hot_ttl_days=7, warm_ttl_days=90)


def row(tenant: str, tier: int, entries: int, stored: int, oldest_days_ago: float) -> Any:
    return {
        "tenant_id": tenant,
        "body_tier": tier,
        "entries": entries,
        "stored_bytes": stored,
        "oldest_accepted_at_ms": int(NOW_MS - oldest_days_ago * DAY_MS),
    }


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_shards_add_up_and_the_oldest_is_the_minimum() -> None:
    stats = merge_shard_stats(
        [
            [row("acme", 0, 3, 3000, 2), row("acme", 1, 2, 400, 30)],
            [row("acme", 0, 1, 1000, 8), row("beta", 2, 5, 500, 200)],
        ]
    )["acme"]
    assert (stats.tiers["hot"].entries, stats.tiers["hot"].stored_bytes) == (4, 4000)
    assert stats.tiers["hot"].oldest_accepted_at_ms == NOW_MS - 8 * DAY_MS
    assert stats.tiers["cold"].entries == 0 and stats.tiers["cold"].oldest_accepted_at_ms is None


@pytest.mark.parametrize(
    ("rows", "ratio"),
    [
        # 1000 bytes per hot body, (400 + 600) / (2 + 3) = 200 per warm or cold one
        ([row("t", 0, 4, 4000, 1), row("t", 1, 2, 400, 30), row("t", 2, 3, 600, 100)], 5.0),
        ([row("t", 0, 4, 4000, 1)], None),  # nothing demoted yet
        ([row("t", 1, 2, 400, 30)], None),  # nothing hot to compare with
    ],
)
def test_compression_ratio(rows: list[Any], ratio: float | None) -> None:
    assert merge_shard_stats([rows])["t"].compression_ratio() == ratio


@pytest.mark.parametrize(
    ("rows", "lag_days"),
    [
        ([row("t", 0, 1, 10, 6.5)], 0),  # hot, not yet due
        ([row("t", 0, 1, 10, 9)], 2),  # hot 2 days past its 7
        ([row("t", 0, 1, 10, 8), row("t", 1, 1, 10, 93)], 3),  # warm 3 days past its 90
        ([row("t", 2, 1, 10, 300)], 0),  # cold leaves only by retention
    ],
)
def test_demotion_lag_is_the_time_the_oldest_due_body_is_overdue(
    rows: list[Any], lag_days: float
) -> None:
    stats = merge_shard_stats([rows])["t"]
    assert stats.demotion_lag_s(POLICY, NOW_MS) == pytest.approx(lag_days * 86_400)


def test_gauges_follow_the_samples_and_drop_gone_tenants() -> None:
    gauges = TierGauges()
    first = merge_shard_stats([[row("g1", 0, 4, 4000, 9), row("g1", 1, 2, 400, 30)]])
    gauges.export("us", first | merge_shard_stats([[row("g2", 0, 1, 5, 1)]]), {}, NOW_MS)
    gauges.export("eu", first, {"g1": POLICY}, NOW_MS)

    assert gauge("tier_entries", region="us", tier="hot", tenant="g1") == 4
    assert gauge("tier_bytes", region="us", tier="warm", tenant="g1") == 400
    assert gauge("tier_entries", region="us", tier="cold", tenant="g1") == 0
    assert gauge("tier_compression_ratio", region="us", tenant="g1") == 5.0
    assert gauge("tier_compression_ratio", region="us", tenant="g2") is None
    # No valid policy known in us: no lag series rather than a wrong one.
    assert gauge("tier_demotion_lag_seconds", region="us", tenant="g1") is None
    assert gauge("tier_demotion_lag_seconds", region="eu", tenant="g1") == 2 * 86_400

    gauges.export("us", first, {"g1": POLICY}, NOW_MS)
    assert gauge("tier_entries", region="us", tier="hot", tenant="g2") is None
    assert gauge("tier_entries", region="eu", tier="hot", tenant="g1") == 4
