"""How many bodies each tenant has in each tier of one region, the bytes they take there, and how
long the oldest of them that should have left its tier is overdue.

One GROUP BY per shard of the read ring, over the key rows only: `octet_length` of a bytea takes
its length from the TOAST header without reading the value, and cold bodies have their length in
the row, so a sample reads no body. Stored bytes are what the tier holds: the hot body, the warm
codec blob, the cold blob in its pack (zstd frames when the tenant compresses, raw otherwise).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.tier_policy import TierPolicy
from storage.dedup.store import DedupStore
from storage.tiering.body_row import BodyTier

TIERS: tuple[str, ...] = tuple(tier.label for tier in BodyTier)
"""Tier labels, indexed by `dedup_events.body_tier`."""

DAY_MS = 86_400_000

STORED_BODY_BYTES = """CASE body_tier
    WHEN 0 THEN octet_length(event)
    WHEN 1 THEN octet_length(warm_body)
    ELSE cold_length
END"""
"""SQL: the bytes a `dedup_events` row's body takes in its tier (reads no body)."""

SELECT_TIER_STATS = f"""
SELECT tenant_id, body_tier, count(*) AS entries,
       sum({STORED_BODY_BYTES}) AS stored_bytes,
       min(accepted_at_ms) AS oldest_accepted_at_ms
FROM dedup_events
GROUP BY tenant_id, body_tier
"""


@dataclass(frozen=True)
class TierCount:
    """The bodies of one tenant in one tier: how many, their stored bytes, and the acceptance
    time of the oldest (None when there are none)."""

    entries: int = 0
    stored_bytes: int = 0
    oldest_accepted_at_ms: int | None = None

    def plus(self, other: TierCount) -> TierCount:
        """Both counts together (the bodies of one tier on two shards)."""
        both = (self.oldest_accepted_at_ms, other.oldest_accepted_at_ms)
        oldest = [t for t in both if t is not None]
        return TierCount(
            self.entries + other.entries,
            self.stored_bytes + other.stored_bytes,
            min(oldest) if oldest else None,
        )


@dataclass(frozen=True)
class TenantTiers:
    """One tenant's bodies in one region, by tier label (every tier present)."""

    tenant: str
    tiers: Mapping[str, TierCount]

    def compression_ratio(self) -> float | None:
        """Hot bytes per body over stored bytes per warm or cold body: about how many times
        smaller demotion makes a body. Rows do not keep a demoted body's raw length (reading it
        would mean decoding every blob), so recent hot bodies stand in for the raw size of old
        ones; None when the tenant has no hot body or none below hot to compare."""
        hot = self.tiers["hot"]
        lower = self.tiers["warm"].plus(self.tiers["cold"])
        if not hot.entries or not lower.entries or not lower.stored_bytes:
            return None
        return (hot.stored_bytes / hot.entries) / (lower.stored_bytes / lower.entries)

    def demotion_lag_s(self, policy: TierPolicy, as_of_ms: int) -> float:
        """How long the oldest body past its tier's TTL has been due to leave (hot past
        `hot_ttl_days`, warm past `warm_ttl_days`), in seconds; 0 when no body is due. Cold is
        left only by retention, which is not demotion."""
        lag_ms = 0
        for tier, ttl_days in (("hot", policy.hot_ttl_days), ("warm", policy.warm_ttl_days)):
            oldest = self.tiers[tier].oldest_accepted_at_ms
            if oldest is not None:
                lag_ms = max(lag_ms, as_of_ms - ttl_days * DAY_MS - oldest)
        return lag_ms / 1000


async def region_tier_stats(store: DedupStore) -> dict[str, TenantTiers]:
    """Every tenant's bodies by tier in the region of `store`, shards queried concurrently.

    Raises the driver's error of the first shard that fails.
    """
    pools = [store.pools.shards[shard] for shard in store.route.read_shards]
    return merge_shard_stats(
        await asyncio.gather(*(pool.fetch(SELECT_TIER_STATS) for pool in pools))
    )


def merge_shard_stats(shards: Iterable[Iterable[Mapping[str, Any]]]) -> dict[str, TenantTiers]:
    """Per tenant, the sum over shards of each tier's counts (the oldest: the minimum)."""
    counts: dict[str, dict[str, TierCount]] = {}
    for rows in shards:
        for row in rows:
            tiers = counts.setdefault(row["tenant_id"], {tier: TierCount() for tier in TIERS})
            tier = TIERS[int(row["body_tier"])]
            tiers[tier] = tiers[tier].plus(
                TierCount(
                    int(row["entries"]),
                    int(row["stored_bytes"] or 0),
                    int(row["oldest_accepted_at_ms"]),
                )
            )
    return {tenant: TenantTiers(tenant, tiers) for tenant, tiers in sorted(counts.items())}


def empty_tenant(tenant: str) -> TenantTiers:
    """A tenant with no body in the region."""
    return TenantTiers(tenant, {tier: TierCount() for tier in TIERS})
