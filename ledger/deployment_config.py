"""Settings of worker builds and their canary rollout: `[deployment]`.

A worker reports a Temporal worker deployment version - the deployment `name` (a pattern: `{queue}`
is its task queue, so each queue's workers ramp on their own) and a `build_id` - once a build id is
set here or by `geoledger worker run --build-id B`. Without one, versioning is off and the worker
polls its queue unversioned, as before.

`geoledger canary start --build B --deployment D` ramps build B of deployment D by the policy
`[deployment.policies.D]`: a deployment without a policy may not ramp. The analysis reads the
SDK metrics of the workers listed in `metrics_targets` (each worker serves them on its /metrics,
tagged with its deployment and build id). The policy is frozen into the canary's workflow input
when it starts.
"""

from __future__ import annotations

import itertools

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

QUEUE_FIELD = "{queue}"
# The labels of a versioned worker's SDK metrics (its runtime's global tags, workers/
# deployment.py); the canary analysis selects samples by them (storage/telemetry/build_metrics.py).
DEPLOYMENT_TAG = "deployment"
BUILD_ID_TAG = "build_id"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CanaryPolicy(_Strict):
    """[deployment.policies.<deployment>]: how one deployment's new builds ramp."""

    # Ramping percentages held for window_s each; the last one must be 100 (current).
    steps: list[int] = Field(default_factory=lambda: [10, 50, 100], min_length=1)
    window_s: float = Field(default=300.0, gt=0, le=86_400)
    # The analysis runs this often inside a window, so a failing build is rolled back early.
    check_interval_s: float = Field(default=30.0, gt=0, le=3_600)
    # The error budget of the SLO (1 - target): 0.01 for 99 % successful workflows and activities.
    slo_error_ratio: float = Field(default=0.01, gt=0, lt=1)
    # A candidate whose error ratio burns the budget faster than this (ratio / budget), and worse
    # than the current build, fails; so does one whose mean latency exceeds the current build's
    # by this factor (and min_latency_delta_ms).
    max_burn_rate: float = Field(default=10.0, gt=0)
    max_latency_ratio: float = Field(default=1.5, gt=1)
    # ... and slower by at least this much: a few milliseconds more on a fast activity are noise.
    min_latency_delta_ms: float = Field(default=50.0, ge=0)
    # Fewer executions than this on the candidate in a window: the analysis is inconclusive and the
    # canary waits for a person. A failure verdict needs at least min_errors errors.
    min_executions: int = Field(default=20, ge=1)
    min_errors: int = Field(default=3, ge=1)
    # Who may promote a paused canary (`geoledger canary promote --who`); anyone may abort.
    promoters: list[str] = Field(default_factory=list)

    @field_validator("steps")
    @classmethod
    def _rising_to_100(cls, steps: list[int]) -> list[int]:
        if steps[-1] != 100 or any(not 0 < s <= 100 for s in steps):
            raise ValueError(f"expected percentages in (0, 100] ending with 100, got {steps}")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"expected rising percentages, got {steps}")
        return steps

    @model_validator(mode="after")
    def _checks_fit_windows(self) -> CanaryPolicy:
        if self.check_interval_s > self.window_s:
            raise ValueError(
                f"check_interval_s: expected at most window_s ({self.window_s}), "
                f"got {self.check_interval_s}"
            )
        return self


class DeploymentConfig(_Strict):
    """[deployment]: read by every worker when it starts, and by `geoledger canary start`."""

    name: str = Field(default="geoledger-" + QUEUE_FIELD, min_length=1)
    # Empty: worker versioning off.
    build_id: str = ""
    # The /metrics URLs of the workers the canary analysis compares (every worker of the
    # deployment, old build and new).
    metrics_targets: list[str] = Field(default_factory=list)
    policies: dict[str, CanaryPolicy] = Field(default_factory=dict)

    def deployment_name(self, queue: str) -> str:
        """The deployment a worker on `queue` belongs to."""
        return self.name.replace(QUEUE_FIELD, queue)
