"""Settings of dedup re-sharding: `[migrate]`.

The rate is the throttle of the copy phase, in keys per second: `dedup-migrate plan` estimates the
copy time at it and stores it with the plan, and `dedup-migrate plan --rate` overrides it for one
plan. It is deliberately modest: the copy reads the source shards while they keep serving ingest.

Every writer process (ingest node, replay and tiering worker) re-reads its region's route every
`route_poll_s` seconds and acknowledges a new epoch once its writes under the old one are done
(storage/dedup/route_watch.py); a writer that has not read the route for `route_lease_s` seconds
stops writing, so the migration may ignore a writer it has not heard from for that long.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MigrateConfig(BaseModel):
    """[migrate]: read by `dedup-migrate` when it plans and starts, by the migrate worker, and
    by every writer for its route."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_keys_per_s: float = Field(default=5_000.0, gt=0, le=10_000_000)
    # A chunk is one COPY into the target and one transaction there; a run is one activity.
    chunk_keys: int = Field(default=1_000, ge=1, le=100_000)
    max_run_s: float = Field(default=5.0, gt=0, le=600)
    # How long the old ring is kept complete after cutover when nobody approves the cleanup.
    cleanup_grace_s: float = Field(default=3_600.0, ge=0)
    # A re-verified chunk that differs is compared once more after this long (writes in flight).
    settle_s: float = Field(default=0.5, ge=0, le=60)
    acks_poll_s: float = Field(default=1.0, gt=0, le=60)
    # A run heartbeats after every chunk: a killed worker's run is retried after this long.
    heartbeat_timeout_s: float = Field(default=10.0, gt=0, le=600)
    sample_interval_s: float = Field(default=15.0, gt=0)
    route_poll_s: float = Field(default=0.5, gt=0)
    route_lease_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _poll_within_lease(self) -> MigrateConfig:
        # A lease shorter than the poll interval would expire between two successful polls.
        if self.route_poll_s >= self.route_lease_s:
            raise ValueError(
                f"route_poll_s: expected less than route_lease_s ({self.route_lease_s}), "
                f"got {self.route_poll_s}"
            )
        return self
