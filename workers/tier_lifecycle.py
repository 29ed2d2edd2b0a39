"""`geoledger tier lifecycle plan | apply`: the bucket lifecycle rules tiering asks of each
region's object store (storage/tiering/lifecycle_plan.py), compared with what the bucket has and
written on demand.

A region's rules come from the tenants' effective policies in that region: the `[tiering]`
defaults, `[tenants.<tenant>]` and the region's control-database overrides. The tenants are those
named in the file or in the region's control database, and those that already have packs in the
region's store (a tenant on the defaults needs rules too when the defaults ask for any). Apply
re-plans from what the bucket holds at that moment, writes that plan, reads the bucket back and
checks that planning again finds nothing to do and every rule that is not ours is still there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.config import RegionConfig, Settings
from ledger.tier_policy import (
    TierPolicy,
    TierPolicyError,
    TierPolicyOverride,
    backend_kind,
    merge_policy,
)
from storage.objectstore import open_object_store
from storage.objectstore.lifecycle import BucketLifecycle, open_bucket_lifecycle
from storage.tiering.lifecycle_plan import Change, LifecyclePlan, derive_rules, plan_lifecycle
from storage.tiering.packs import PACKS_PREFIX
from storage.tiering.policy_store import list_overrides
from workers.tier_policy import in_control_databases


class LifecycleCheckError(Exception):
    """A bucket read back after apply does not hold the rules just written."""


@dataclass(frozen=True)
class RegionLifecycle:
    """A region's bucket and its lifecycle plan; `plan` None when the store has no lifecycle
    rules (`file://`), `note` saying so."""

    region: str
    bucket: str
    plan: LifecyclePlan | None
    note: str | None = None


async def plan_regions(settings: Settings, regions: Sequence[str]) -> list[RegionLifecycle]:
    """The plan of each region in `regions` (all configured ones when empty), in that order.

    Raises ConfigError for an unknown region, TierPolicyError when a tenant's policy breaks a
    rule, TierPolicyUnavailableError when a control database fails, ObjectStoreError when a
    store does (Unavailable when it cannot be reached).
    """
    names = _region_names(settings, regions)
    overrides = await in_control_databases(settings, list_overrides)
    return [await _plan(settings, name, overrides[name]) for name in names]


async def apply_regions(settings: Settings, regions: Sequence[str]) -> list[RegionLifecycle]:
    """Plan each region, write its plan when it changes anything, read the bucket back and
    check it; return the plans written. One region at a time, each planned just before it is
    written, so a bucket shared by regions (under different prefixes) loses no one's rules.

    Raises LifecycleCheckError when a bucket read back differs from its plan, and the errors of
    `plan_regions`.
    """
    names = _region_names(settings, regions)
    overrides = await in_control_databases(settings, list_overrides)
    applied: list[RegionLifecycle] = []
    for name in names:
        planned = await _plan(settings, name, overrides[name])
        if planned.plan is not None and planned.plan.has_changes:
            await _write_and_check(settings.region(name), planned.plan)
        applied.append(planned)
    return applied


async def _plan(
    settings: Settings, name: str, overrides: dict[str, TierPolicyOverride]
) -> RegionLifecycle:
    region = settings.region(name)
    store = region.object_store
    lifecycle = open_bucket_lifecycle(store)
    kind = backend_kind(store.scheme)
    if lifecycle is None or kind is None:
        return RegionLifecycle(name, store.url, None, f"{store.scheme}:// stores have no lifecycle")
    tenants = set(settings.tenants) | set(overrides) | await _tenants_with_packs(region)
    policies = {t: _policy(settings, name, t, overrides.get(t)) for t in sorted(tenants)}
    wanted = derive_rules(kind, store.prefix, policies)
    plan = plan_lifecycle(await lifecycle.read_rules(), wanted, store.prefix)
    return RegionLifecycle(name, lifecycle.describe(), plan)


async def _write_and_check(region: RegionConfig, plan: LifecyclePlan) -> None:
    lifecycle = open_bucket_lifecycle(region.object_store)
    assert lifecycle is not None  # only stores with a lifecycle have a plan
    await lifecycle.write_rules(plan.kept, plan.rules)
    # What the bucket holds now must be the plan: planning again finds nothing to do, and every
    # rule that was not ours is still there, unchanged.
    await _check(lifecycle, plan, region.object_store.prefix)


async def _check(lifecycle: BucketLifecycle, plan: LifecyclePlan, store_prefix: str) -> None:
    again = plan_lifecycle(await lifecycle.read_rules(), plan.rules, store_prefix)
    if again.has_changes:
        differences = [
            f"{e.change} {e.prefix} {e.action}: {e.current} -> {e.planned}"
            for e in again.entries
            if e.change not in (Change.KEEP, Change.NOT_OURS)
        ]
        raise LifecycleCheckError(
            f"{lifecycle.describe()}: expected the rules just written, read back "
            f"{len(differences)} difference(s): {'; '.join(differences)}"
        )
    if [rule.raw for rule in again.kept] != [rule.raw for rule in plan.kept]:
        raise LifecycleCheckError(
            f"{lifecycle.describe()}: expected {len(plan.kept)} rule(s) that are not ours kept "
            f"unchanged, read back {len(again.kept)} other ones"
        )


async def _tenants_with_packs(region: RegionConfig) -> set[str]:
    """Tenants with at least one pack in the region's store (`tiering/packs/<tenant>/...`)."""
    store = open_object_store(region.object_store)
    tenants: set[str] = set()
    async for info in store.list(f"{PACKS_PREFIX}/"):
        tenants.add(info.key[len(PACKS_PREFIX) + 1 :].split("/", 1)[0])
    return tenants


def _policy(
    settings: Settings, region: str, tenant: str, override: TierPolicyOverride | None
) -> TierPolicy:
    try:
        policy, _ = merge_policy(settings.tiering, settings.tenants.get(tenant), override)
    except TierPolicyError as exc:
        raise TierPolicyError([f"{region}, tenant {tenant}: {p}" for p in exc.problems]) from None
    return policy


def _region_names(settings: Settings, regions: Sequence[str]) -> list[str]:
    for name in regions:
        settings.region(name)  # ConfigError naming the configured ones
    return list(regions) or list(settings.regions)
