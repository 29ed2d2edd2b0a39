"""The tier gauges (issue 11 item 8): per region, each tenant's bodies and stored bytes by tier,
its compression ratio and how far demotion is behind its TTLs.

They carry a `region` label besides those issue 11 names: one worker samples every region of
the configuration (workers/tier_sampler.py), and a tenant has bodies in each region, in tiers
that differ as each region demotes on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Gauge

from ledger.tier_policy import TierPolicy
from storage.tiering.stats import TIERS, TenantTiers

TIER_ENTRIES = Gauge(
    "tier_entries", "Bodies of a tenant in a tier of a region.", ["region", "tier", "tenant"]
)
TIER_BYTES = Gauge(
    "tier_bytes",
    "Bytes the bodies of a tenant take in a tier of a region, as stored (compressed or raw).",
    ["region", "tier", "tenant"],
)
TIER_COMPRESSION_RATIO = Gauge(
    "tier_compression_ratio",
    "Hot bytes per body over stored bytes per warm or cold body (absent without both).",
    ["region", "tenant"],
)
TIER_DEMOTION_LAG = Gauge(
    "tier_demotion_lag_seconds",
    "How long the oldest body past its tier's TTL has been due to leave that tier; 0 when none.",
    ["region", "tenant"],
)


class TierGauges:
    """Sets the gauges from a region's statistics and removes the series of tenants a region no
    longer has (retention deleted them), so a gone tenant does not report its last sample."""

    def __init__(self) -> None:
        self._tenants: dict[str, set[str]] = {}

    def export(
        self,
        region: str,
        tenants: Mapping[str, TenantTiers],
        policies: Mapping[str, TierPolicy],
        as_of_ms: int,
    ) -> None:
        """Set every gauge of `region` from `tenants`; a tenant without a valid policy in
        `policies` gets no lag series (its TTLs are unknown)."""
        for gone in self._tenants.get(region, set()) - set(tenants):
            self._remove(region, gone)
        for tenant, stats in tenants.items():
            for tier in TIERS:
                TIER_ENTRIES.labels(region, tier, tenant).set(stats.tiers[tier].entries)
                TIER_BYTES.labels(region, tier, tenant).set(stats.tiers[tier].stored_bytes)
            ratio = stats.compression_ratio()
            _set_or_remove(TIER_COMPRESSION_RATIO, (region, tenant), ratio)
            policy = policies.get(tenant)
            lag = None if policy is None else stats.demotion_lag_s(policy, as_of_ms)
            _set_or_remove(TIER_DEMOTION_LAG, (region, tenant), lag)
        self._tenants[region] = set(tenants)

    def _remove(self, region: str, tenant: str) -> None:
        for tier in TIERS:
            _remove(TIER_ENTRIES, (region, tier, tenant))
            _remove(TIER_BYTES, (region, tier, tenant))
        _remove(TIER_COMPRESSION_RATIO, (region, tenant))
        _remove(TIER_DEMOTION_LAG, (region, tenant))


def _set_or_remove(gauge: Gauge, labels: tuple[str, ...], value: float | None) -> None:
    if value is None:
        _remove(gauge, labels)
    else:
        gauge.labels(*labels).set(value)


def _remove(gauge: Gauge, labels: tuple[str, ...]) -> None:
    try:
        gauge.remove(*labels)
    except KeyError:
        return  # never set: nothing to remove
