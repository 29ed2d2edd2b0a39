"""Typed inputs and results of the tiering activities. Payloads carry tenants, regions, shard
numbers, checkpoints (event ids) and counts - never bodies."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class DemotionStep(StrEnum):
    """What a step of the demotion does: delete what is past retention (every tier), or move
    bodies into a tier: hot -> warm, or warm -> cold."""

    EXPIRE = "expire"
    WARM = "warm"
    COLD = "cold"


class TierPlanInput(BaseModel):
    """Which tenant's demotion to plan."""

    tenant: str


class RegionShards(BaseModel):
    """A region's dedup shards a demotion walks (0 .. shards-1); `resharding` says why a region
    in the middle of a re-sharding is left alone this time (None when it is walked)."""

    region: str
    shards: int
    resharding: str | None = None


class TierPlan(BaseModel):
    """Every region of the demotion, in configuration order."""

    regions: list[RegionShards]


class DemoteBatchInput(BaseModel):
    """One batch: the tenant's rows on one shard of one region, after checkpoint `after` (the
    last event id a finished batch went through; "" from the start), past the tier's TTL at
    `as_of_ms`."""

    tenant: str
    region: str
    shard: int
    step: DemotionStep
    after: str
    as_of_ms: int


class RestorePackInput(BaseModel):
    """One archived pack to restore: the tenant's pack `pack_id` in `region`'s object store, kept
    readable `days` days once restored; `poll_interval_s` paces the wait."""

    tenant: str
    region: str
    pack_id: str
    days: int
    poll_interval_s: float


class ExpireBatchInput(BaseModel):
    """One expiry batch: the tenant's winners on one shard of one region after checkpoint
    `after`, against the horizon its policy gives at `as_of_ms`."""

    tenant: str
    region: str
    shard: int
    after: str
    as_of_ms: int


class ExpireBatchResult(BaseModel):
    """What a batch deleted (storage.tiering.expire.ExpiryBatch), the horizon it deleted below
    (None: the policy deletes nothing - no retention, or a legal hold) and where the next one
    starts (`next_after` None when the shard has nothing left). The region's last batch also
    says what the pack rewrite did (storage.tiering.pack_rewrite.PackRewrites): packs
    rewritten, expired blobs dropped, archived packs left for a later run (`packs` counts the
    old packs deleted too). `resharding` says why a batch deleted nothing without looking: the
    region is being re-sharded."""

    scanned: int
    winners: int
    copies: int
    packs: int
    horizon_hlc: int | None
    next_after: str | None
    packs_rewritten: int = 0
    blobs_dropped: int = 0
    packs_archived: int = 0
    resharding: str | None = None
