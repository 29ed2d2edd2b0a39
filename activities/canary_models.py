"""Typed inputs and results of the canary rollout (workflows/canary.py, activities/canary.py):
what the workflow starts with, what the analysis found, and the status its query answers.

Recorded workflow histories carry these field names: they never change."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from ledger.canary_figures import BuildTotals
from ledger.deployment_config import CanaryPolicy
from ledger.deployment_routing import Routing


class Verdict(StrEnum):
    """What one analysis of a window found."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class CanaryPhase(StrEnum):
    """Where a rollout is."""

    RAMPING = "ramping"  # holding a step while the analysis runs
    PAUSED = "paused"  # an inconclusive analysis: waits for promote or abort
    PROMOTED = "promoted"  # the build is current at 100 %
    ROLLED_BACK = "rolled_back"  # a failed analysis: ramp 0, current unchanged
    ABORTED = "aborted"  # a person aborted: ramp 0, current unchanged


FINAL_PHASES = frozenset({CanaryPhase.PROMOTED, CanaryPhase.ROLLED_BACK, CanaryPhase.ABORTED})


class CanaryInput(BaseModel):
    """What `geoledger canary start` starts CanaryWorkflow with."""

    deployment: str
    build_id: str
    # Frozen from [deployment.policies.<deployment>] when the canary starts.
    policy: CanaryPolicy
    metrics_targets: list[str]
    started_by: str = ""


class Snapshot(BaseModel):
    """Cumulative SDK counters per build id, summed over the scraped workers."""

    builds: dict[str, BuildTotals] = Field(default_factory=dict)
    unreachable: list[str] = Field(default_factory=list)


class AnalyzeInput(BaseModel):
    """One analysis: the candidate build against the baseline since a reading."""

    deployment: str
    candidate_build: str
    # The current build the candidate is compared with; None when the deployment had none.
    baseline_build: str | None
    metrics_targets: list[str]
    policy: CanaryPolicy
    # The reading at the start of the window; None: only take a reading.
    since: Snapshot | None = None


class BuildFigures(BaseModel):
    """One build's executions in the window, and what the policy measures of them."""

    build_id: str
    executions: float
    errors: float
    error_ratio: float | None
    burn_rate: float | None
    activity_latency_ms: float | None
    workflow_latency_ms: float | None


class Analysis(BaseModel):
    """The verdict of one analysis, the figures it rests on, and why."""

    verdict: Verdict
    reason: str
    candidate: BuildFigures | None = None
    baseline: BuildFigures | None = None
    # The reading this analysis ended with (the next window starts from it).
    snapshot: Snapshot = Field(default_factory=Snapshot)


class RampInput(BaseModel):
    """One step of the ramp."""

    deployment: str
    build_id: str
    # Below 100: the ramping percentage; 100: the build becomes current.
    percentage: int


class RollbackTrigger(StrEnum):
    """What rolled a build back: the `trigger` label of canary_rollbacks_total."""

    ANALYSIS = "analysis"  # the analysis failed the build
    ERROR = "error"  # the ramp could not be set
    ABORT = "abort"  # a person aborted


class RollbackInput(BaseModel):
    """A rollback: ramp 0 for the build, the current build unchanged."""

    deployment: str
    build_id: str
    reason: str
    trigger: RollbackTrigger


class RollbackResult(BaseModel):
    """The routing after a rollback."""

    routing: Routing
    # Running workflows pinned to the rolled-back build that were moved to the current one.
    moved_workflows: int = 0


class Decision(BaseModel):
    """A person's promote or abort (the argument of the signals and updates)."""

    who: str
    # promote: straight to 100 % instead of the next step.
    full: bool = False
    reason: str = ""


class ControlAnswer(BaseModel):
    """The answer to promote or abort."""

    accepted: bool
    message: str
    phase: CanaryPhase


class CanaryStatus(BaseModel):
    """The `status` query: where the rollout is and why."""

    deployment: str
    build_id: str
    baseline_build: str | None = None
    phase: CanaryPhase
    steps: list[int]
    step_index: int = 0
    percentage: int = 0
    window_ends_at: datetime | None = None
    last_analysis: Analysis | None = None
    # Why the canary paused, rolled back or was aborted.
    reason: str | None = None
    # Who promoted or aborted it last.
    decided_by: str | None = None
    waiting_for: str | None = None
    refused: str | None = None
    moved_workflows: int = 0
