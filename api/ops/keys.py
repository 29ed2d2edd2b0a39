"""`GET /v1/ops/keys/sample` and `/v1/ops/keys/{tenant}/{event_id}`: a random sample of a
tenant's keys in every region, and where one key lives under each ring of the live route."""

from __future__ import annotations

import asyncio
import random
from functools import partial
from typing import Literal

from api.ops.databases import OpsDatabases, RegionDatabases, outcome_of
from api.ops.models import (
    KeyAnswer,
    KeyPlacement,
    RegionKey,
    RegionSample,
    RouteInfo,
    SampleAnswer,
    SampledKey,
    TierName,
)
from ledger.ring import shard_of
from storage.dedup.inspect import fetch_body_tier, fetch_sample_keys
from storage.tiering.body_row import BodyTier

TIER_NAMES: dict[BodyTier, TierName] = {
    BodyTier.HOT: "hot",
    BodyTier.WARM: "warm",
    BodyTier.COLD: "cold",
}


async def sample_keys(databases: OpsDatabases, tenant: str, n: int) -> SampleAnswer:
    """Up to `n` of the tenant's keys per region, drawn at random from the ring reads use.

    Requires 1 <= n (the route bounds it); each shard offers up to `n` random keys and `n` of
    their union are drawn, so a key's chance does not depend on how full its shard is."""
    regions = await asyncio.gather(*(_region_sample(r, tenant, n) for r in databases.regions))
    return SampleAnswer(tenant=tenant, n=n, regions=list(regions))


async def locate_key(databases: OpsDatabases, tenant: str, event_id: str) -> KeyAnswer:
    """Per region, the key's shard under the current ring (and the next one while migrating),
    whether that shard holds the key's row, and the tier its body is in."""
    regions = await asyncio.gather(*(_region_key(r, tenant, event_id) for r in databases.regions))
    return KeyAnswer(tenant=tenant, event_id=event_id, regions=list(regions))


async def _region_sample(region: RegionDatabases, tenant: str, n: int) -> RegionSample:
    route = await outcome_of(region.route())
    if route.value is None:
        return RegionSample(region=region.name, error=route.error, keys=[])
    ring = route.value.read_shards
    offered = await asyncio.gather(
        *(region.on_shard(i, partial(fetch_sample_keys, tenant_id=tenant, limit=n)) for i in ring)
    )
    errors = [f"shard {i}: {o.error}" for i, o in zip(ring, offered, strict=True) if o.error]
    # A shard of the read ring may also hold copies it receives as a shard of the other ring
    # (while re-sharding): each key is drawn from the shard reads go to.
    size = route.value.read_ring
    owned = [
        SampledKey(event_id=event_id, shard=i)
        for i, found in zip(ring, offered, strict=True)
        for event_id in found.value or []
        if shard_of(tenant, event_id, size) == i
    ]
    drawn = random.sample(owned, min(n, len(owned)))
    drawn.sort(key=lambda key: (key.event_id, key.shard))
    return RegionSample(region=region.name, error="; ".join(errors) or None, keys=drawn)


async def _region_key(region: RegionDatabases, tenant: str, event_id: str) -> RegionKey:
    route = await outcome_of(region.route())
    if route.value is None:
        return RegionKey(region=region.name, route=None, error=route.error, placements=[])
    rings: list[tuple[Literal["current", "next"], int]] = [("current", route.value.ring_size)]
    if route.value.next_ring_size is not None:
        rings.append(("next", route.value.next_ring_size))
    placements = await asyncio.gather(
        *(_placement(region, ring, size, tenant, event_id) for ring, size in rings)
    )
    return RegionKey(
        region=region.name,
        route=RouteInfo.of(route.value),
        error=None,
        placements=list(placements),
    )


async def _placement(
    region: RegionDatabases,
    ring: Literal["current", "next"],
    ring_size: int,
    tenant: str,
    event_id: str,
) -> KeyPlacement:
    shard = shard_of(tenant, event_id, ring_size)
    found = await region.on_shard(shard, partial(_body_tier, tenant=tenant, event_id=event_id))
    tier = found.value[0] if found.value is not None else None
    return KeyPlacement(
        ring=ring,
        ring_size=ring_size,
        shard=shard,
        holds=None if found.error else tier is not None,
        body_tier=None if tier is None else TIER_NAMES[tier],
        error=found.error,
    )


async def _body_tier(pool: object, *, tenant: str, event_id: str) -> tuple[BodyTier | None]:
    # Wrapped in a tuple: an Outcome's None value means "no answer", not "no row".
    return (await fetch_body_tier(pool, tenant, event_id),)
