"""What the canary analysis measures of one worker build: the cumulative counts of the Temporal
SDK's own metrics (workflows completed and failed, activity executions and failures, latency sums)
summed over every worker of that build, and the difference of two readings - one window."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class BuildTotals(BaseModel):
    """Cumulative SDK counters of one build (latencies in milliseconds, as the SDK records them)."""

    model_config = ConfigDict(frozen=True)

    workflows_completed: float = 0.0
    workflows_failed: float = 0.0
    workflow_latency_ms_sum: float = 0.0
    workflow_latency_count: float = 0.0
    activities: float = 0.0
    activities_failed: float = 0.0
    activity_latency_ms_sum: float = 0.0

    def plus(self, other: BuildTotals) -> BuildTotals:
        return BuildTotals(
            **{name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields}
        )

    def since(self, earlier: BuildTotals | None) -> BuildTotals:
        """What happened after `earlier`. A counter that went down belongs to a worker that
        restarted: its whole value counts, as Prometheus' increase() treats a reset."""
        if earlier is None:
            return self
        fields = type(self).model_fields
        if any(getattr(self, name) < getattr(earlier, name) for name in fields):
            return self
        return BuildTotals(
            **{name: getattr(self, name) - getattr(earlier, name) for name in fields}
        )

    @property
    def executions(self) -> float:
        return self.workflows_completed + self.workflows_failed + self.activities

    @property
    def errors(self) -> float:
        return self.workflows_failed + self.activities_failed

    @property
    def error_ratio(self) -> float | None:
        """The larger of the workflow and the activity failure ratios; None without executions."""
        ratios = []
        workflows = self.workflows_completed + self.workflows_failed
        if workflows:
            ratios.append(self.workflows_failed / workflows)
        if self.activities:
            ratios.append(self.activities_failed / self.activities)
        return max(ratios) if ratios else None

    @property
    def activity_latency_ms(self) -> float | None:
        return self.activity_latency_ms_sum / self.activities if self.activities else None

    @property
    def workflow_latency_ms(self) -> float | None:
        if not self.workflow_latency_count:
            return None
        return self.workflow_latency_ms_sum / self.workflow_latency_count
