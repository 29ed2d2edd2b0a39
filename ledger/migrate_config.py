"""Settings of dedup re-sharding: `[migrate]`.

The rate is the throttle of the copy phase, in keys per second: `dedup-migrate plan` estimates the
copy time at it and stores it with the plan, and `dedup-migrate plan --rate` overrides it for one
plan. It is deliberately modest: the copy reads the source shards while they keep serving ingest.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MigrateConfig(BaseModel):
    """[migrate]: read by `dedup-migrate` when it plans."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_keys_per_s: float = Field(default=5_000.0, gt=0, le=10_000_000)
