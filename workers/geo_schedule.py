"""The Temporal Schedule `geo-divergence`: a geo-divergence check every few minutes, created or
updated to the interval and task queue asked for."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from workers.geo_check import CHECK_TIMEOUT
from workers.schedules import ensure_schedule
from workflows.geo_divergence import (
    SCHEDULE_ID,
    WORKFLOW_ID_PREFIX,
    GeoDivergenceInput,
    GeoDivergenceWorkflow,
)

# A scheduled run missed while Temporal was down is worth running late only briefly after.
CATCHUP_WINDOW = timedelta(minutes=1)


def geo_check_schedule(interval: timedelta, task_queue: str) -> Schedule:
    """A check every `interval` on `task_queue`; a run still going when the next is due makes
    that one skip, and one that has not finished within CHECK_TIMEOUT is stuck and ends."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            GeoDivergenceWorkflow.run,
            GeoDivergenceInput(),
            # Temporal appends the scheduled time: runs are `geo-divergence-<timestamp>`.
            id=WORKFLOW_ID_PREFIX,
            task_queue=task_queue,
            execution_timeout=CHECK_TIMEOUT,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_geo_schedule(client: Client, interval: timedelta, task_queue: str) -> bool:
    """Create the schedule, or replace the existing one's definition; True when created.

    Raises the client's RPCError as it comes."""
    return await ensure_schedule(client, SCHEDULE_ID, geo_check_schedule(interval, task_queue))
