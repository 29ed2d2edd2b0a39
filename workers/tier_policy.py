"""`geoledger tier policy show | set | unset`: a tenant's tiering policy in every region.

The effective policy of a tenant in a region is `[tiering]`, then `[tenants.<tenant>]` of
geoledger.toml, then the override in that region's control database (ledger/tier_policy.py).
`set` and `unset` change the override in every region, and only after the policy each region
would end up with is valid: a change that breaks a rule anywhere writes nothing anywhere. Both
are idempotent, so re-running one that a region's outage cut short completes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from ledger.config import Settings
from ledger.envelope import check_tenant_id
from ledger.tier_policy import (
    PolicySource,
    TierPolicy,
    TierPolicyError,
    TierPolicyOverride,
    build_override,
    check_field_names,
    merge_policy,
)
from storage.control_regions import in_every_region
from storage.tiering.policy_store import get_override, set_fields, unset_fields

_T = TypeVar("_T")

CONNECT_TIMEOUT_S = 10.0


class TierPolicyUnavailableError(Exception):
    """A region's control database could not be reached or failed; `regions` names each with
    its reason. A change may have completed in the other regions: re-running it is safe."""

    def __init__(self, regions: Mapping[str, str]) -> None:
        detail = "; ".join(f"{region}: {reason}" for region, reason in sorted(regions.items()))
        super().__init__(f"tier policies unavailable in {sorted(regions)}: {detail}")
        self.regions = dict(regions)


@dataclass(frozen=True)
class RegionPolicy:
    """A tenant's effective policy in one region, where each field comes from, and the fields
    the region's control database overrides (None: no override)."""

    region: str
    policy: TierPolicy
    sources: Mapping[str, PolicySource]
    override: TierPolicyOverride | None


async def show_policy(settings: Settings, tenant: str) -> list[RegionPolicy]:
    """The tenant's effective policy in every region, in configuration order.

    Raises TierPolicyError for a malformed tenant id or when a region's policy breaks a rule
    (the file changed under a stored override), TierPolicyUnavailableError as above.
    """
    _check_tenant(tenant)
    overrides = await in_control_databases(settings, lambda conn: get_override(conn, tenant))
    return _effective(settings, tenant, overrides)


async def set_policy(
    settings: Settings, tenant: str, changes: TierPolicyOverride
) -> list[RegionPolicy]:
    """Override the fields `changes` sets, in every region; return the policies now in force.

    Raises TierPolicyError, having written nothing, when no field is given or when the policy
    of any region would break a rule.
    """
    _check_tenant(tenant)
    if not changes.fields():
        raise TierPolicyError(["nothing to set: give at least one policy field"])
    current = await in_control_databases(settings, lambda conn: get_override(conn, tenant))
    _effective(settings, tenant, {r: _with(o, changes) for r, o in current.items()})
    stored = await in_control_databases(settings, lambda conn: set_fields(conn, tenant, changes))
    return _effective(settings, tenant, dict(stored))


async def unset_policy(settings: Settings, tenant: str, names: Sequence[str]) -> list[RegionPolicy]:
    """Drop the fields `names` from the tenant's override in every region, so they come from
    geoledger.toml again; return the policies now in force.

    Raises TierPolicyError, having written nothing, for an unknown field name or when the
    policy of any region would break a rule.
    """
    _check_tenant(tenant)
    if not names:
        raise TierPolicyError(["nothing to unset: name at least one policy field"])
    fields = check_field_names(list(names))
    current = await in_control_databases(settings, lambda conn: get_override(conn, tenant))
    _effective(settings, tenant, {r: _without(o, fields) for r, o in current.items()})
    left = await in_control_databases(settings, lambda conn: unset_fields(conn, tenant, fields))
    return _effective(settings, tenant, left)


def _check_tenant(tenant: str) -> None:
    try:
        check_tenant_id(tenant)
    except ValueError as exc:
        raise TierPolicyError([f"tenant: {exc}"]) from None


def _with(override: TierPolicyOverride | None, changes: TierPolicyOverride) -> TierPolicyOverride:
    return build_override({**(override.fields() if override else {}), **changes.fields()})


def _without(override: TierPolicyOverride | None, fields: list[str]) -> TierPolicyOverride | None:
    if override is None:
        return None
    return build_override({k: v for k, v in override.fields().items() if k not in fields})


def _effective(
    settings: Settings, tenant: str, overrides: Mapping[str, TierPolicyOverride | None]
) -> list[RegionPolicy]:
    """Each region's merged policy; TierPolicyError listing every broken rule once, prefixed
    with the regions it breaks in when not all of them."""
    results: list[RegionPolicy] = []
    broken: dict[str, list[str]] = {}
    for region, override in overrides.items():
        try:
            policy, sources = merge_policy(settings.tiering, settings.tenants.get(tenant), override)
        except TierPolicyError as exc:
            for problem in exc.problems:
                broken.setdefault(problem, []).append(region)
            continue
        results.append(RegionPolicy(region, policy, sources, override))
    if broken:
        raise TierPolicyError(
            [
                problem if len(regions) == len(overrides) else f"in {', '.join(regions)}: {problem}"
                for problem, regions in broken.items()
            ]
        )
    return results


async def in_control_databases(
    settings: Settings, work: Callable[[Any], Awaitable[_T]]
) -> dict[str, _T]:
    """Run `work` on a connection to each region's control database, concurrently; wait for
    all, then raise TierPolicyUnavailableError naming every region that failed."""
    results, failed = await in_every_region(
        {name: _on_control(region.control_dsn, work) for name, region in settings.regions.items()},
        "tier_policies",
    )
    if failed:
        raise TierPolicyUnavailableError(failed)
    return results


async def _on_control(dsn: str, work: Callable[[Any], Awaitable[_T]]) -> _T:
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
    try:
        return await work(conn)
    finally:
        await conn.close()
