"""One region's tier statistics beside the effective policy of each tenant they name: what the
tier gauges and `geoledger tier status` are computed from."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.config import Settings
from ledger.tier_policy import TierPolicy, TierPolicyError, merge_policy
from storage.dedup.store import DedupStore
from storage.tiering.policy_store import list_overrides
from storage.tiering.stats import TenantTiers, empty_tenant, region_tier_stats

log = logging.getLogger("geoledger.tiering.status")


@dataclass(frozen=True)
class RegionTiers:
    """Each tenant's bodies by tier in one region and its effective policy there; a tenant
    whose layers make an invalid policy (a file changed under an override) has none."""

    region: str
    tenants: dict[str, TenantTiers]
    policies: dict[str, TierPolicy]


async def region_tiers(
    settings: Settings, region: str, store: DedupStore, tenants: Iterable[str] = ()
) -> RegionTiers:
    """The statistics of `store` (the dedup store of `region`) for the tenants it has bodies
    of, plus `tenants` (shown with none), and their policies from its control database."""
    stats = await region_tier_stats(store)
    for tenant in tenants:
        stats.setdefault(tenant, empty_tenant(tenant))
    overrides = await list_overrides(store.pools.control)
    policies: dict[str, TierPolicy] = {}
    for tenant in stats:
        try:
            policies[tenant], _ = merge_policy(
                settings.tiering, settings.tenants.get(tenant), overrides.get(tenant)
            )
        except TierPolicyError as exc:
            log.warning("tier policy of %s in %s is invalid: %s", tenant, region, exc)
    return RegionTiers(region, dict(sorted(stats.items())), policies)
