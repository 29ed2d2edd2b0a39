"""The JSON answers of the ops API: one pydantic model per answer, shared by the routes (and so
by the committed OpenAPI document) and by `geoledger ops ... --json`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from storage.dedup.routing import Phase, Route

TierName = Literal["hot", "warm", "cold"]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorDetail(_Answer):
    code: str
    message: str


class ErrorBody(_Answer):
    """Every refusal of the ops API other than a 422 (FastAPI's own validation answer)."""

    error: ErrorDetail


class RouteInfo(_Answer):
    """A region's route in force: its epoch, ring, and the re-sharding step it is in."""

    epoch: int
    ring_size: int
    next_ring_size: int | None
    phase: Phase
    migration_id: str | None

    @classmethod
    def of(cls, route: Route) -> RouteInfo:
        return cls(
            epoch=route.epoch,
            ring_size=route.ring_size,
            next_ring_size=route.next_ring_size,
            phase=route.phase,
            migration_id=route.migration_id,
        )


class ShardStatus(_Answer):
    """One configured shard. `replay_lag` is, per stream, how many records this shard is behind
    the region's furthest written shard (None for a shard the route does not write)."""

    shard: int
    database: str
    in_current_ring: bool
    in_next_ring: bool
    reachable: bool
    error: str | None
    keys: int | None
    bytes: int | None
    applied_positions: dict[str, int]
    replay_lag: dict[str, int] | None


class RegionShards(_Answer):
    region: str
    route: RouteInfo | None
    error: str | None
    shards: list[ShardStatus]


class ShardsAnswer(_Answer):
    regions: list[RegionShards]


class ShardShare(_Answer):
    shard: int
    keys: int | None
    share: float | None
    error: str | None


class RegionDistribution(_Answer):
    """Keys per shard of the current ring; shares are None unless every shard answered."""

    region: str
    route: RouteInfo | None
    error: str | None
    total_keys: int | None
    expected_share: float | None
    shards: list[ShardShare]


class DistributionAnswer(_Answer):
    regions: list[RegionDistribution]


class SampledKey(_Answer):
    event_id: str
    shard: int


class RegionSample(_Answer):
    region: str
    error: str | None
    keys: list[SampledKey]


class SampleAnswer(_Answer):
    tenant: str
    n: int
    regions: list[RegionSample]


class KeyPlacement(_Answer):
    """The key's shard under one ring of the live route, whether that shard holds its row
    (None when it could not be asked), and the tier of the body there."""

    ring: Literal["current", "next"]
    ring_size: int
    shard: int
    holds: bool | None
    body_tier: TierName | None
    error: str | None


class RegionKey(_Answer):
    region: str
    route: RouteInfo | None
    error: str | None
    placements: list[KeyPlacement]


class KeyAnswer(_Answer):
    tenant: str
    event_id: str
    regions: list[RegionKey]


class MigrationEpochInfo(_Answer):
    epoch: int
    phase: Phase
    ring_size: int
    next_ring_size: int | None
    created_at: datetime


class MigrationInfo(_Answer):
    """A re-sharding run as the region's routing table records it: the epochs it appended and
    whether the route in force is still one of them."""

    id: str
    region: str
    from_ring_size: int
    to_ring_size: int | None
    phase: Phase
    active: bool
    started_at: datetime
    updated_at: datetime
    epochs: list[MigrationEpochInfo]


class MigrationsAnswer(_Answer):
    """Every run found; `unavailable` names the regions that could not be read, and why."""

    migrations: list[MigrationInfo]
    unavailable: dict[str, str]
