"""A stored plan as its migration runs it: taken (planned -> running, once, by one workflow) and
ended (running -> done or rolled_back)."""

from __future__ import annotations

from typing import Any

import asyncpg

from ledger.migration_plan import MigrationPlan, PlanState
from storage.dedup.errors import MigrationRefusedError
from storage.dedup.plan_store import fetch_plan, mark_finished, mark_running, running_plan_id
from storage.dedup.routing import read_current_route


async def take_plan(control: Any, plan_id: str, workflow_id: str) -> MigrationPlan:
    """The plan `plan_id`, now running under `workflow_id` (already running under it: as is).

    Raises MigrationRefusedError when there is no such plan, it ended or runs under another
    workflow, another plan of its region is running, or the region's route is no longer the one
    the plan was measured against (and is not one this migration appended)."""
    async with control.acquire() as conn, conn.transaction():
        plan = await fetch_plan(conn, plan_id)
        if plan is None:
            raise MigrationRefusedError(f"no plan {plan_id!r}: see `dedup-migrate plans`")
        if plan.state is PlanState.RUNNING:
            if plan.workflow_id != workflow_id:
                raise MigrationRefusedError(
                    f"plan {plan_id} is already running as {plan.workflow_id}"
                )
            return plan
        if plan.state is not PlanState.PLANNED:
            raise MigrationRefusedError(
                f"plan {plan_id} is {plan.state.value}: plan again with `dedup-migrate plan`"
            )
        route = await read_current_route(conn)
        if route.epoch != plan.routing_epoch:
            raise MigrationRefusedError(
                f"plan {plan_id} was measured against routing epoch {plan.routing_epoch}, the "
                f"region is at epoch {route.epoch} now: plan again"
            )
        try:
            async with conn.transaction():
                taken = await mark_running(conn, plan_id, workflow_id)
        except asyncpg.UniqueViolationError:
            running = await running_plan_id(conn, plan.region)
            raise MigrationRefusedError(
                f"region {plan.region} is already migrating: plan {running} is running"
            ) from None
        if not taken:
            raise MigrationRefusedError(f"plan {plan_id} changed while it was taken: try again")
        return plan.model_copy(update={"state": PlanState.RUNNING, "workflow_id": workflow_id})


async def end_plan(control: Any, plan_id: str, state: PlanState) -> None:
    """Record the end of the running plan: `done` or `rolled_back`."""
    if state not in (PlanState.DONE, PlanState.ROLLED_BACK):
        raise ValueError(f"a plan ends done or rolled_back, got {state.value}")
    async with control.acquire() as conn:
        await mark_finished(conn, plan_id, state)
