"""`geoledger tier status`: per tenant and region, bodies and stored bytes by tier, the effective
policy, the estimated monthly cost (`[tier_status.prices]`), and the tenant's demotion schedule.

A region or Temporal that cannot be reached is reported, not fatal: status is what an operator
reads during the outages the alerts page for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.client import Client

from ledger.config import Settings
from ledger.envelope import check_tenant_id
from ledger.tier_policy import TierPolicy, TierPolicyError, backend_kind
from ledger.tier_prices import monthly_cost
from storage.control_regions import DRIVER_ERRORS
from storage.dedup.errors import DedupError
from storage.dedup.store import DedupStore
from storage.tiering.stats import TenantTiers
from workers.tier_schedule_status import ScheduleStatus, describe_demotion_schedule
from workers.tier_snapshot import RegionTiers, region_tiers


@dataclass(frozen=True)
class TenantInRegion:
    """A tenant's bodies in one region; `policy` and `monthly_cost_usd` are None when its
    policy there is invalid."""

    region: str
    stats: TenantTiers
    policy: TierPolicy | None
    demotion_lag_s: float | None
    monthly_cost_usd: float | None


@dataclass(frozen=True)
class TenantStatus:
    tenant: str
    regions: list[TenantInRegion]
    # None when Temporal could not be asked (TierStatus.schedules_unavailable says why).
    schedule: ScheduleStatus | None

    @property
    def monthly_cost_usd(self) -> float:
        """The estimate summed over the regions that have one."""
        return sum(r.monthly_cost_usd or 0.0 for r in self.regions)


@dataclass(frozen=True)
class TierStatus:
    as_of_ms: int
    tenants: list[TenantStatus]
    # Regions whose databases failed, with the reason; their tenants show no row for them.
    unavailable: dict[str, str] = field(default_factory=dict)
    schedules_unavailable: str | None = None


async def tier_status(
    settings: Settings, client: Client | None, tenant: str | None, as_of_ms: int
) -> TierStatus:
    """The status of `tenant` (every tenant with bodies or a [tenants] section when None).
    `client` None (Temporal unreachable) leaves the schedules out.

    Raises TierPolicyError for a malformed tenant id.
    """
    if tenant is not None:
        try:
            check_tenant_id(tenant)
        except ValueError as exc:
            raise TierPolicyError([f"tenant: {exc}"]) from None
    asked = [tenant] if tenant is not None else list(settings.tenants)
    regions, unavailable = await _regions(settings, asked)
    tenants = sorted({t for r in regions.values() for t in r.tenants if tenant in (None, t)})
    schedules, schedules_unavailable = await _schedules(client, tenants)
    return TierStatus(
        as_of_ms=as_of_ms,
        tenants=[
            TenantStatus(
                t,
                [_in_region(settings, regions[r], t, as_of_ms) for r in regions],
                schedules.get(t),
            )
            for t in tenants
        ],
        unavailable=unavailable,
        schedules_unavailable=schedules_unavailable,
    )


async def _regions(
    settings: Settings, tenants: Sequence[str]
) -> tuple[dict[str, RegionTiers], dict[str, str]]:
    """Every region's tiers, concurrently; a region whose databases fail is named with why."""
    names = list(settings.regions)
    outcomes = await asyncio.gather(
        *(_region(settings, name, tenants) for name in names), return_exceptions=True
    )
    regions: dict[str, RegionTiers] = {}
    unavailable: dict[str, str] = {}
    for name, outcome in zip(names, outcomes, strict=True):
        if isinstance(outcome, (DedupError, *DRIVER_ERRORS)):
            unavailable[name] = str(outcome) or type(outcome).__name__
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            regions[name] = outcome
    return regions, unavailable


async def _region(settings: Settings, region: str, tenants: Sequence[str]) -> RegionTiers:
    async with await DedupStore.open(settings.region(region)) as store:
        return await region_tiers(settings, region, store, tenants)


def _in_region(
    settings: Settings, region: RegionTiers, tenant: str, as_of_ms: int
) -> TenantInRegion:
    stats = region.tenants[tenant]
    policy = region.policies.get(tenant)
    if policy is None:
        return TenantInRegion(region.region, stats, None, None, None)
    kind = backend_kind(settings.region(region.region).object_store.scheme)
    stored = {tier: count.stored_bytes for tier, count in stats.tiers.items()}
    cost = monthly_cost(settings.tier_status.prices, kind, policy, stored)
    return TenantInRegion(
        region.region, stats, policy, stats.demotion_lag_s(policy, as_of_ms), cost
    )


async def _schedules(
    client: Client | None, tenants: Sequence[str]
) -> tuple[dict[str, ScheduleStatus], str | None]:
    if client is None:
        return {}, "Temporal not reachable"
    try:
        described = await asyncio.gather(*(describe_demotion_schedule(client, t) for t in tenants))
    except Exception as exc:  # Temporal failing must not hide what the databases say
        return {}, f"Temporal: {exc}"
    return dict(zip(tenants, described, strict=True)), None
