"""A tenant's effective tiering policy in this region, for readers: the defaults and the tenant's
section of geoledger.toml merged with the override in the region's control database (the same
merge `geoledger tier policy show` does, ledger/tier_policy.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.tier_policy import TierPolicy, TierPolicyOverride, merge_policy
from storage.tiering.policy_store import get_override


class TenantPolicies:
    """Effective policies read from `control_db` (an asyncpg pool) on each call: an override set
    by `geoledger tier policy set` applies to the next read, with no cache to invalidate."""

    def __init__(
        self,
        defaults: TierPolicy,
        sections: Mapping[str, TierPolicyOverride],
        control_db: Any,
    ) -> None:
        self._defaults = defaults
        self._sections = sections
        self._control_db = control_db

    async def policy(self, tenant: str) -> TierPolicy:
        """The tenant's effective policy here. Raises TierPolicyError when the stored override
        breaks a rule together with the file, asyncpg errors as they come."""
        override = await get_override(self._control_db, tenant)
        policy, _ = merge_policy(self._defaults, self._sections.get(tenant), override)
        return policy
