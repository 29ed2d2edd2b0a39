"""Operator control of re-sharding from a Temporal client: start a stored plan's
DedupMigrationWorkflow, read its progress, and steer it through its updates (which answer at once,
or are rejected with the reason)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.migrate_models import (
    ControlAnswer,
    MigrateSettings,
    MigrationInput,
    MigrationProgress,
    Stage,
)
from ledger import search_attributes
from ledger.config import Settings
from ledger.migration_plan import MigrationPlan, PlanState
from workers.workflow_updates import UpdateRefused, WorkflowNotRunning, execute_control
from workflows import queues
from workflows.dedup_migration import DedupMigrationWorkflow
from workflows.migration_ids import migration_workflow_id

QUERY_TIMEOUT = timedelta(seconds=10)
GEO_REGION = SearchAttributeKey.for_keyword(search_attributes.GEO_REGION)
GEO_PHASE = SearchAttributeKey.for_keyword(search_attributes.GEO_PHASE)

CONTROLS = ("approve_cutover", "approve_cleanup", "pause", "resume", "rollback", "set_rate")


class ControlRefused(Exception):
    """The workflow rejected a control (the message is its reason), or is not running."""


def migrate_settings(settings: Settings) -> MigrateSettings:
    """The [migrate] settings a migration is started with."""
    migrate = settings.migrate
    return MigrateSettings(
        chunk_keys=migrate.chunk_keys,
        max_run_s=migrate.max_run_s,
        cleanup_grace_s=migrate.cleanup_grace_s,
        settle_s=migrate.settle_s,
        acks_poll_s=migrate.acks_poll_s,
        heartbeat_timeout_s=migrate.heartbeat_timeout_s,
    )


async def start_migration(
    client: Client,
    settings: Settings,
    plan: MigrationPlan,
    *,
    auto_approve: bool = False,
    rate_keys_per_s: float | None = None,
    task_queue: str = queues.MIGRATE,
) -> str:
    """Start the plan's workflow; return its id. Raises ControlRefused when the plan is not
    `planned` or its workflow already ran."""
    if plan.state is not PlanState.PLANNED:
        raise ControlRefused(
            f"plan {plan.id} is {plan.state.value}"
            + (f" ({plan.workflow_id})" if plan.workflow_id else "")
            + ": only a planned plan starts"
        )
    workflow_id = migration_workflow_id(plan.id)
    try:
        await client.start_workflow(
            DedupMigrationWorkflow.run,
            MigrationInput(
                migration_id=plan.id,
                region=plan.region,
                auto_approve=auto_approve,
                rate_keys_per_s=rate_keys_per_s,
                settings=migrate_settings(settings),
            ),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(GEO_REGION, plan.region),
                    SearchAttributePair(GEO_PHASE, Stage.PLAN.value),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        raise ControlRefused(f"{workflow_id} was already started") from None
    return workflow_id


def _handle(
    client: Client, plan_id: str
) -> WorkflowHandle[DedupMigrationWorkflow, MigrationProgress]:
    return client.get_workflow_handle_for(
        DedupMigrationWorkflow.run, migration_workflow_id(plan_id)
    )


async def migration_progress(client: Client, plan_id: str) -> MigrationProgress:
    """The workflow's `progress` query (answered for a closed run too, from its history)."""
    return await _handle(client, plan_id).query(
        DedupMigrationWorkflow.progress, rpc_timeout=QUERY_TIMEOUT
    )


async def control_migration(
    client: Client, plan_id: str, control: str, rate_keys_per_s: float | None = None
) -> ControlAnswer:
    """Send `control` (one of CONTROLS) as an update; return the answer. Raises ControlRefused
    with the validator's reason when the workflow rejects it."""
    if control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; known: {', '.join(CONTROLS)}")
    handle = _handle(client, plan_id)
    args = [] if rate_keys_per_s is None else [rate_keys_per_s]
    try:
        return await execute_control(handle, control, args, ControlAnswer)
    except UpdateRefused as exc:
        raise ControlRefused(str(exc)) from None
    except WorkflowNotRunning:
        pass
    # A closed workflow takes no update: say how it ended, from its result in the history.
    try:
        ended = await handle.result()
    except WorkflowFailureError:
        raise ControlRefused(
            f"migration {plan_id} failed or was terminated: nothing to {control}"
        ) from None
    raise ControlRefused(
        f"migration {plan_id} is {ended.stage.value}: it has ended, nothing to {control}"
    )
