"""Typed inputs and results of the re-sharding activities and of DedupMigrationWorkflow (names:
activities/names.py). Payloads carry regions, shard numbers, keys to resume after, counts and
object keys - never rows or bodies."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from ledger.reshard_chunk import ChunkKey
from ledger.route_acks import NodeAck


class Stage(StrEnum):
    """Where a migration is. The first six are the phases of the issue's design (`plan` only
    until the workflow has read its plan); the GeoPhase search attribute carries the value."""

    PLAN = "plan"
    COPY = "copy"
    VERIFY = "verify"
    DUAL_WRITE = "dual_write"
    CUTOVER = "cutover"
    CLEANUP = "cleanup"
    DONE = "done"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"


FINAL_STAGES = frozenset({Stage.DONE, Stage.ROLLED_BACK})
# Before cleanup has changed the route, the old ring is complete: every stage can roll back.
ROLLBACK_STAGES = frozenset({Stage.PLAN, Stage.COPY, Stage.VERIFY, Stage.DUAL_WRITE, Stage.CUTOVER})

STAGE_NUMBERS = {
    Stage.PLAN: 0,
    Stage.COPY: 1,
    Stage.VERIFY: 2,
    Stage.DUAL_WRITE: 3,
    Stage.CUTOVER: 4,
    Stage.CLEANUP: 5,
    Stage.DONE: 6,
    Stage.ROLLING_BACK: -1,
    Stage.ROLLED_BACK: -2,
}
"""The value of the `migration_phase` gauge per stage (runbooks/migrate-cli-howto.md)."""


class PassKind(StrEnum):
    """A walk over the moving keys of every (source, target) pair of shards."""

    COPY = "copy"
    VERIFY = "verify"
    CATCH_UP = "catch_up"
    REVERIFY = "reverify"
    UNDO = "undo"
    CLEANUP = "cleanup"  # walks one old shard: its cursor's pair names that shard twice


class ShardPair(BaseModel):
    """Keys go from `source` to `target` (and, on undo, are removed from `target` again)."""

    model_config = ConfigDict(frozen=True)

    source: int = Field(ge=0)
    target: int = Field(ge=0)


class PairCursor(BaseModel):
    """How far a pass got over one pair: resume after `after_key`."""

    pair: ShardPair
    after_key: ChunkKey | None = None
    done: bool = False
    keys: int = Field(default=0, ge=0)


class Throttle(BaseModel):
    """How fast a run goes and how long one activity runs before reporting back."""

    rate_keys_per_s: float = Field(gt=0)
    chunk_keys: int = Field(ge=1)
    max_run_s: float = Field(gt=0)


class PairRunInput(BaseModel):
    """One bounded run of a pass over one pair, from `after_key`."""

    migration_id: str
    region: str
    from_ring: int = Field(ge=1)
    to_ring: int = Field(ge=1)
    kind: PassKind
    pair: ShardPair
    after_key: ChunkKey | None = None
    throttle: Throttle
    settle_s: float = Field(default=0.0, ge=0)


class PairRunResult(BaseModel):
    """What one run did: resume after `after_key`; `done` when the pair has no key left.
    Verify runs fill the last four fields; `mismatch_objects` holds the store keys of the full
    lists of mismatching keys."""

    after_key: ChunkKey | None
    done: bool
    keys: int = Field(ge=0)
    copies: int = Field(default=0, ge=0)
    written: int = Field(default=0, ge=0)
    merged: int = Field(default=0, ge=0)
    seconds: float = Field(default=0.0, ge=0)
    mismatches: int = Field(default=0, ge=0)
    behind: int = Field(default=0, ge=0)
    ahead: int = Field(default=0, ge=0)
    mismatch_objects: list[str] = Field(default_factory=list)


class CleanupRunInput(BaseModel):
    """One bounded run of deleting moved keys from old shard `shard`."""

    migration_id: str
    region: str
    from_ring: int = Field(ge=1)
    to_ring: int = Field(ge=1)
    shard: int = Field(ge=0)
    after_key: ChunkKey | None = None
    throttle: Throttle


class CleanupRunResult(BaseModel):
    """What one cleanup run did; `kept` counts keys the new ring did not cover (left alone)."""

    after_key: ChunkKey | None
    done: bool
    keys: int = Field(ge=0)
    copies: int = Field(ge=0)
    kept: int = Field(default=0, ge=0)
    seconds: float = Field(default=0.0, ge=0)


class RouteMark(BaseModel):
    """A routing epoch as the workflow appended (or found) it."""

    epoch: int = Field(ge=1)
    phase: str
    ring_size: int = Field(ge=1)
    next_ring_size: int | None = None


class AdvanceRouteInput(BaseModel):
    """Append the epoch after `from_epoch` with these fields (idempotent)."""

    migration_id: str
    region: str
    from_epoch: int = Field(ge=1)
    phase: str
    ring_size: int = Field(ge=1)
    next_ring_size: int | None = None


class RouteAcksInput(BaseModel):
    """Which live writers of `region` have not acknowledged `epoch` yet."""

    region: str
    epoch: int = Field(ge=1)


class BeginInput(BaseModel):
    """Mark plan `migration_id` of `region` running under `workflow_id` (idempotent)."""

    migration_id: str
    region: str
    workflow_id: str


class PlanSummary(BaseModel):
    """The plan a migration runs, as far as the workflow needs it."""

    migration_id: str
    region: str
    from_ring: int = Field(ge=1)
    to_ring: int = Field(ge=1)
    routing_epoch: int = Field(ge=1)
    keys_to_move: int = Field(ge=0)
    rate_keys_per_s: float = Field(gt=0)


class FinishInput(BaseModel):
    """Record the plan's end: `done` or `rolled_back`."""

    migration_id: str
    region: str
    state: str


class PositionsInput(BaseModel):
    """Seal (after the catch-up copy) or clear (rollback) the stream positions of new shards."""

    region: str
    from_ring: int = Field(ge=1)
    to_ring: int = Field(ge=1)


class MigrateSettings(BaseModel):
    """The [migrate] settings a run was started with."""

    chunk_keys: int = Field(default=1_000, ge=1)
    max_run_s: float = Field(default=5.0, gt=0)
    cleanup_grace_s: float = Field(default=3_600.0, ge=0)
    settle_s: float = Field(default=0.5, ge=0)
    acks_poll_s: float = Field(default=1.0, gt=0)
    heartbeat_timeout_s: float = Field(default=10.0, gt=0)


class MigrationInput(BaseModel):
    """Start (or, with `state`, continue) the migration of plan `migration_id`."""

    migration_id: str
    region: str
    auto_approve: bool = False
    rate_keys_per_s: float | None = Field(default=None, gt=0)
    settings: MigrateSettings = Field(default_factory=MigrateSettings)
    state: MigrationState | None = None


class MigrationState(BaseModel):
    """Everything a run carries over a continue-as-new."""

    plan: PlanSummary | None = None
    stage: Stage = Stage.PLAN
    step: str = ""
    route: RouteMark | None = None
    acked_epoch: int = 0
    # The pass under way (None: the next pass starts afresh), its cursors and keys so far.
    pass_kind: PassKind | None = None
    cursors: list[PairCursor] = Field(default_factory=list)
    pass_keys: int = 0
    rate_keys_per_s: float = Field(default=1.0, gt=0)
    paused: bool = False
    rollback_requested: bool = False
    cutover_approved: bool = False
    cleanup_approved: bool = False
    cleanup_due_at: datetime | None = None
    keys_copied: int = 0
    keys_verified: int = 0
    keys_cleaned: int = 0
    # Of the latest verify or re-verify pass (reset when one starts).
    mismatches: int = 0
    behind: int = 0
    mismatch_objects: list[str] = Field(default_factory=list)
    blocked: str | None = None
    last_error: str | None = None
    refused: str | None = None
    started_at: datetime | None = None


class MigrationProgress(BaseModel):
    """The `progress` query: where the migration is, how fast it goes, what it waits for."""

    migration_id: str
    region: str
    from_ring: int
    to_ring: int
    stage: Stage
    step: str
    route_epoch: int | None
    route_phase: str | None
    pass_name: str | None
    pair: ShardPair | None
    keys_to_move: int
    keys_copied: int
    keys_verified: int
    keys_cleaned: int
    pass_keys: int
    mismatches: int
    behind: int
    mismatch_objects: list[str]
    rate_keys_per_s: float
    eta_s: float | None
    paused: bool
    waiting_for: str | None
    pending_nodes: list[NodeAck]
    last_error: str | None
    refused: str | None


class ControlAnswer(BaseModel):
    """What an update answered: the stage the migration is in after it."""

    accepted: bool
    message: str
    stage: Stage


MigrationInput.model_rebuild()
