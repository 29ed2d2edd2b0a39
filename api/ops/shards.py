"""`GET /v1/ops/shards` and `/v1/ops/distribution`: every region's shards, what they hold, how far
each has applied every stream, and how the ring reads use spreads the keys."""

from __future__ import annotations

import asyncio

from api.ops.databases import OpsDatabases, Outcome, RegionDatabases, outcome_of
from api.ops.models import (
    DistributionAnswer,
    RegionDistribution,
    RegionShards,
    RouteInfo,
    ShardsAnswer,
    ShardShare,
    ShardStatus,
)
from storage.dedup.inspect import ShardSize, fetch_shard_size
from storage.dedup.read import fetch_positions
from storage.dedup.routing import Route


async def shards(databases: OpsDatabases) -> ShardsAnswer:
    """Every configured shard of every region, with its size, reachability and positions."""
    return ShardsAnswer(
        regions=list(await asyncio.gather(*(_region_shards(r) for r in databases.regions)))
    )


async def distribution(databases: OpsDatabases) -> DistributionAnswer:
    """Keys per shard of each region's read ring, and each shard's share of them."""
    return DistributionAnswer(
        regions=list(await asyncio.gather(*(_region_distribution(r) for r in databases.regions)))
    )


async def _region_shards(region: RegionDatabases) -> RegionShards:
    route = await outcome_of(region.route())
    indexes = range(len(region.shards))
    sizes, positions = await asyncio.gather(
        asyncio.gather(*(region.on_shard(i, fetch_shard_size) for i in indexes)),
        asyncio.gather(*(region.on_shard(i, fetch_positions) for i in indexes)),
    )
    written = set(route.value.written_shards) if route.value else set()
    furthest = _furthest_positions([positions[i] for i in indexes if i in written])
    return RegionShards(
        region=region.name,
        route=None if route.value is None else RouteInfo.of(route.value),
        error=route.error,
        shards=[
            _shard_status(region, i, route.value, sizes[i], positions[i], furthest) for i in indexes
        ],
    )


def _shard_status(
    region: RegionDatabases,
    shard: int,
    route: Route | None,
    size: Outcome[ShardSize],
    positions: Outcome[dict[str, int]],
    furthest: dict[str, int],
) -> ShardStatus:
    applied = positions.value or {}
    written = route is not None and shard in route.written_shards and positions.value is not None
    return ShardStatus(
        shard=shard,
        database=region.shards[shard].name,
        in_current_ring=route is not None and shard < route.ring_size,
        in_next_ring=route is not None and shard < (route.next_ring_size or 0),
        reachable=size.error is None and positions.error is None,
        error=size.error or positions.error,
        keys=None if size.value is None else size.value.keys,
        bytes=None if size.value is None else size.value.bytes,
        applied_positions=dict(sorted(applied.items())),
        replay_lag={s: seq - applied.get(s, 0) for s, seq in furthest.items()} if written else None,
    )


def _furthest_positions(outcomes: list[Outcome[dict[str, int]]]) -> dict[str, int]:
    """Per stream, the highest seq any of these shards applied: the replay lag's reference,
    since every written shard receives every batch's position (storage/dedup/store.py)."""
    furthest: dict[str, int] = {}
    for outcome in outcomes:
        for stream, seq in (outcome.value or {}).items():
            furthest[stream] = max(seq, furthest.get(stream, 0))
    return dict(sorted(furthest.items()))


async def _region_distribution(region: RegionDatabases) -> RegionDistribution:
    route = await outcome_of(region.route())
    if route.value is None:
        return RegionDistribution(
            region=region.name,
            route=None,
            error=route.error,
            total_keys=None,
            expected_share=None,
            shards=[],
        )
    ring = route.value.read_shards
    sizes = await asyncio.gather(*(region.on_shard(i, fetch_shard_size) for i in ring))
    counts = [None if size.value is None else size.value.keys for size in sizes]
    total = None if None in counts else sum(c for c in counts if c is not None)
    return RegionDistribution(
        region=region.name,
        route=RouteInfo.of(route.value),
        error=None,
        total_keys=total,
        expected_share=1 / route.value.read_ring,
        shards=[
            ShardShare(
                shard=i, keys=counts[i], share=_share(counts[i], total), error=sizes[i].error
            )
            for i in ring
        ],
    )


def _share(keys: int | None, total: int | None) -> float | None:
    """The shard's part of the region's keys; None unless every shard was counted and some
    key exists."""
    if keys is None or not total:
        return None
    return keys / total
