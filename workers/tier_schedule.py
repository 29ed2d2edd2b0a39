"""The Temporal Schedule `tier-demote-<tenant>`: one DemotionWorkflow of the tenant every so
often, created or updated to the interval, throttle and task queue asked for. Paused, resumed or
triggered in the web UI like any schedule."""

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

from workers.schedules import ensure_schedule
from workers.tier_demote import demotion_input, tenant_attributes
from workflows.demotion import DemotionWorkflow, demotion_workflow_id

# A run missed while Temporal was down is still worth running within this window; later, the
# next scheduled one does the same work (it demotes everything past its TTL by then).
CATCHUP_WINDOW = timedelta(minutes=10)


def tier_schedule(tenant: str, interval: timedelta, bytes_per_s: int, task_queue: str) -> Schedule:
    """A demotion of `tenant` every `interval` on `task_queue`; a run still going when the next
    is due makes that one skip (a demotion is never run twice at once)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DemotionWorkflow.run,
            demotion_input(tenant, None, bytes_per_s),
            # Temporal appends the scheduled time: runs are `tier-demote-<tenant>-<timestamp>`.
            id=demotion_workflow_id(tenant),
            task_queue=task_queue,
            typed_search_attributes=tenant_attributes(tenant),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_tier_schedule(
    client: Client, tenant: str, interval: timedelta, bytes_per_s: int, task_queue: str
) -> bool:
    """Create the tenant's schedule, or replace the existing one's definition; True when
    created. Raises the client's RPCError as it comes."""
    definition = tier_schedule(tenant, interval, bytes_per_s, task_queue)
    return await ensure_schedule(client, demotion_workflow_id(tenant), definition)
