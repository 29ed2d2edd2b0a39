"""`geoledger tier schedule | demote`: a tenant's demotion every so often, or one now. Both need
a worker polling `geoledger-tiering` (`geoledger worker run --queue geoledger-tiering`)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

import typer
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    console,
    fail,
    print_json,
    settings_from,
    temporal_client,
)
from cli.durations import parse_duration
from ledger.config import Settings
from ledger.envelope import check_tenant_id
from workers.tier_demote import start_demotion
from workers.tier_schedule import ensure_tier_schedule
from workflows import queues
from workflows.demotion import DemotionStatus, demotion_workflow_id

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="The tenant.")]
TaskQueueOption = Annotated[
    str, typer.Option("--task-queue", hidden=True, help="Task queue of the tiering worker.")
]


def register(tier_app: typer.Typer) -> None:
    """Add `schedule` and `demote` to the `tier` command group."""
    tier_app.command("schedule")(schedule)
    tier_app.command("demote")(demote)


def schedule(
    tenant: TenantOption,
    every: Annotated[
        str, typer.Option("--every", help="How often to demote: 30m, 1h, 1d ...")
    ] = "1h",
    config: ConfigOption = None,
    task_queue: TaskQueueOption = queues.TIERING,
) -> None:
    """Create or update the tenant's Temporal Schedule `tier-demote-<tenant>` (idempotent)."""
    try:
        interval = parse_duration(every)
        check_tenant_id(tenant)
    except ValueError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    settings = settings_from(config)
    created = asyncio.run(_schedule(settings, tenant, interval, task_queue))
    schedule_id = demotion_workflow_id(tenant)
    console.print(
        f"schedule {schedule_id} {'created' if created else 'updated'}: every {every}, "
        f"overlapping runs skipped, workflows on {task_queue}"
    )
    ui = settings.temporal.ui_url
    console.print(f"  {ui}/namespaces/{settings.temporal.namespace}/schedules/{schedule_id}")


def demote(
    tenant: TenantOption,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Count TTLs to this time (ISO 8601, e.g. 2030-01-01T00:00:00Z, or Unix ms); "
            "default: now.",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the demotion to finish.")] = False,
    json_output: JsonOption = False,
    config: ConfigOption = None,
    task_queue: TaskQueueOption = queues.TIERING,
) -> None:
    """Start a demotion of the tenant's bodies now (`tier-demote-<tenant>`)."""
    try:
        check_tenant_id(tenant)
        as_of_ms = None if as_of is None else parse_as_of(as_of)
    except ValueError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    settings = settings_from(config)
    status = asyncio.run(_demote(settings, tenant, as_of_ms, wait, task_queue))
    if status is None:
        console.print(f"{demotion_workflow_id(tenant)} started on {task_queue}")
    elif json_output:
        print_json(status.model_dump(mode="json"))
    else:
        totals = status.totals
        # Retention's part only when it deleted something: a tenant without one reads as before.
        expired = (
            f"; past retention: {totals.expired} records and {totals.expired_copies} copies "
            f"deleted, {totals.expired_packs} pack(s)"
            if totals.expired or totals.expired_copies or totals.expired_packs
            else ""
        )
        console.print(
            f"{demotion_workflow_id(tenant)} done: {totals.to_warm} bodies to warm, "
            f"{totals.to_cold} to cold in {totals.packs} pack(s), {totals.skipped} skipped "
            f"(changed meanwhile), {totals.stored_raw} stored raw{expired}"
        )


def parse_as_of(text: str) -> int:
    """Unix milliseconds of `text`: an integer as it is, or an ISO 8601 time with its zone.

    Raises ValueError naming what was expected and what was got.
    """
    if text.strip().isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--as-of: expected ISO 8601 or Unix ms, got {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"--as-of: expected a time with its zone (Z, +02:00), got {text!r}")
    return int(moment.timestamp() * 1000)


async def _schedule(settings: Settings, tenant: str, interval: timedelta, task_queue: str) -> bool:
    client = await temporal_client(settings)
    try:
        return await ensure_tier_schedule(
            client, tenant, interval, settings.tier_demotion.bytes_per_s, task_queue
        )
    except RPCError as exc:
        fail(f"Temporal at {settings.temporal.address}: {exc}", ExitCode.UNAVAILABLE)


async def _demote(
    settings: Settings, tenant: str, as_of_ms: int | None, wait: bool, task_queue: str
) -> DemotionStatus | None:
    client = await temporal_client(settings)
    try:
        handle = await start_demotion(
            client, tenant, as_of_ms, settings.tier_demotion.bytes_per_s, task_queue
        )
        return await handle.result() if wait else None
    except WorkflowAlreadyStartedError:
        fail(f"{demotion_workflow_id(tenant)} is already running", ExitCode.FAILED)
    except RPCError as exc:
        fail(f"Temporal at {settings.temporal.address}: {exc}", ExitCode.UNAVAILABLE)
    except WorkflowFailureError as exc:
        fail(f"the demotion failed: {exc.cause}", ExitCode.FAILED)
