"""Re-sharding plans in the control database (`dedup_migration_plans`): store one, list them,
find the one a region is running."""

from __future__ import annotations

import json
from typing import Any

from ledger.migration_plan import MigrationPlan, PlanCheck, PlanState, ShardMove

PLAN_LOCK_KEY = 0x67656F6D69677270
"""The pg_advisory_xact_lock key taken while a plan is checked and stored ("geomigrp")."""

SELECT_RUNNING = """
SELECT id FROM dedup_migration_plans WHERE region = $1 AND state = 'running'
"""

INSERT_PLAN = """
INSERT INTO dedup_migration_plans (
    id, region, from_ring, to_ring, created_at, routing_epoch, moves, checks,
    rate_keys_per_s, estimated_copy_s, state, workflow_id
) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12)
"""

_SELECT = """
SELECT id, region, from_ring, to_ring, created_at, routing_epoch, moves::text AS moves,
       checks::text AS checks, rate_keys_per_s, estimated_copy_s, state, workflow_id
FROM dedup_migration_plans
"""
SELECT_PLANS = _SELECT + "WHERE $1::text IS NULL OR region = $1 ORDER BY created_at, id"
SELECT_PLAN = _SELECT + "WHERE id = $1"


MARK_RUNNING = """
UPDATE dedup_migration_plans SET state = 'running', workflow_id = $2
WHERE id = $1 AND state = 'planned'
"""
MARK_FINISHED = """
UPDATE dedup_migration_plans SET state = $2 WHERE id = $1 AND state = 'running'
"""


async def mark_running(conn: Any, plan_id: str, workflow_id: str) -> bool:
    """Move a planned plan to running under `workflow_id`; False when it was not planned. A
    second running plan of the region violates the partial unique index (asyncpg's
    UniqueViolationError): the caller names the running one."""
    status = await conn.execute(MARK_RUNNING, plan_id, workflow_id)
    return str(status).split()[-1] == "1"


async def mark_finished(conn: Any, plan_id: str, state: PlanState) -> None:
    """Record that the running plan ended (`done` or `rolled_back`); a no-op when it already
    did."""
    await conn.execute(MARK_FINISHED, plan_id, state.value)


async def running_plan_id(conn: Any, region: str) -> str | None:
    """The id of the plan `region` is running, or None."""
    value = await conn.fetchval(SELECT_RUNNING, region)
    return None if value is None else str(value)


async def insert_plan(conn: Any, plan: MigrationPlan) -> None:
    """Store `plan` (the caller holds the transaction and PLAN_LOCK_KEY)."""
    await conn.execute(
        INSERT_PLAN,
        plan.id,
        plan.region,
        plan.from_ring,
        plan.to_ring,
        plan.created_at,
        plan.routing_epoch,
        json.dumps([move.model_dump(mode="json") for move in plan.moves]),
        json.dumps([check.model_dump(mode="json") for check in plan.checks]),
        plan.rate_keys_per_s,
        plan.estimated_copy_s,
        plan.state.value,
        plan.workflow_id,
    )


async def list_plans(conn: Any, region: str | None = None) -> list[MigrationPlan]:
    """Every stored plan (or `region`'s), oldest first."""
    return [plan_from_row(row) for row in await conn.fetch(SELECT_PLANS, region)]


async def fetch_plan(conn: Any, plan_id: str) -> MigrationPlan | None:
    """The stored plan `plan_id`, or None."""
    row = await conn.fetchrow(SELECT_PLAN, plan_id)
    return None if row is None else plan_from_row(row)


def plan_from_row(row: Any) -> MigrationPlan:
    """The plan a SELECT_PLANS or SELECT_PLAN row holds."""
    return MigrationPlan(
        id=row["id"],
        region=row["region"],
        from_ring=row["from_ring"],
        to_ring=row["to_ring"],
        created_at=row["created_at"],
        routing_epoch=row["routing_epoch"],
        moves=tuple(ShardMove.model_validate(m) for m in json.loads(row["moves"])),
        checks=tuple(PlanCheck.model_validate(c) for c in json.loads(row["checks"])),
        rate_keys_per_s=row["rate_keys_per_s"],
        estimated_copy_s=row["estimated_copy_s"],
        state=PlanState(row["state"]),
        workflow_id=row["workflow_id"],
    )
