"""What `geoledger tier status` says about a tenant's demotion schedule: the Temporal Schedule
`tier-demote-<tenant>` as Temporal describes it (paused or not, interval, next run, last run)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
)
from temporalio.service import RPCError, RPCStatusCode

from workflows.demotion import demotion_workflow_id


@dataclass(frozen=True)
class LastRun:
    """The schedule's most recent run: when it started, its workflow id and that workflow's
    status now (e.g. RUNNING, COMPLETED, FAILED; None when it cannot be described)."""

    started_at: datetime
    workflow_id: str
    status: str | None


@dataclass(frozen=True)
class ScheduleStatus:
    """`exists` False: no schedule (demotion runs only when started by hand)."""

    schedule_id: str
    exists: bool
    paused: bool = False
    interval_s: float | None = None
    next_run: datetime | None = None
    last_run: LastRun | None = None


async def describe_demotion_schedule(client: Client, tenant: str) -> ScheduleStatus:
    """The tenant's schedule as Temporal has it. Raises RPCError for anything but its absence."""
    schedule_id = demotion_workflow_id(tenant)  # the schedule's id too (workers/tier_schedule.py)
    try:
        described = await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return ScheduleStatus(schedule_id, exists=False)
        raise
    intervals = described.schedule.spec.intervals
    next_runs = described.info.next_action_times
    return ScheduleStatus(
        schedule_id,
        exists=True,
        paused=described.schedule.state.paused,
        interval_s=intervals[0].every.total_seconds() if intervals else None,
        next_run=next_runs[0] if next_runs else None,
        last_run=await _last_run(client, described.info.recent_actions),
    )


async def _last_run(client: Client, recent: Sequence[ScheduleActionResult]) -> LastRun | None:
    if not recent:
        return None
    action = recent[-1]
    execution = action.action
    if not isinstance(execution, ScheduleActionExecutionStartWorkflow):
        return None
    try:
        # The latest run of that id: a run that continued as new is followed to its end.
        described = await client.get_workflow_handle(execution.workflow_id).describe()
        status = described.status.name if described.status is not None else None
    except RPCError:
        status = None  # the run's history is gone (retention): its start is still worth showing
    return LastRun(action.started_at, execution.workflow_id, status)
