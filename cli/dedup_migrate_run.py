"""`dedup-migrate start | status | approve | pause | resume | rate | rollback`: run a stored plan
as DedupMigrationWorkflow and steer it.

Exit codes: 0 done (for `status --watch`: the migration finished), 1 refused by the workflow
(the reason is printed; nothing changed) or, for `status --watch`, rolled back, 2 bad input,
3 Temporal or a database unreachable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table
from temporalio.client import Client
from temporalio.service import RPCError

from activities.migrate_models import ControlAnswer, MigrationProgress, Stage
from cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    console,
    err_console,
    fail,
    print_json,
    settings_from,
    temporal_client,
)
from cli.durations import format_duration
from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.migration_plan import MigrationPlan, region_of_plan_id
from storage.dedup.errors import DedupError
from storage.dedup.plan import stored_plans
from workers.migrate_control import (
    ControlRefused,
    control_migration,
    migration_progress,
    start_migration,
)
from workflows.migration_ids import migration_workflow_id

_T = TypeVar("_T")

PlanIdArgument = Annotated[str, typer.Argument(help="The plan id (see `dedup-migrate plans`).")]


def _run(work: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(work)
    except ControlRefused as exc:
        fail(str(exc), ExitCode.FAILED)
    except RPCError as exc:
        fail(f"Temporal: {exc}", ExitCode.UNAVAILABLE)
    except (DedupError, OSError) as exc:
        fail(f"a control database is unreachable: {exc}", ExitCode.UNAVAILABLE)


def _plan(settings: Settings, plan_id: str) -> MigrationPlan:
    try:
        region = region_of_plan_id(plan_id)
        region_config = settings.region(region)
    except (ValueError, ConfigError) as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    found = [p for p in _run(stored_plans(region, region_config)) if p.id == plan_id]
    if not found:
        fail(
            f"no plan {plan_id!r} in region {region}: see `dedup-migrate plans`", ExitCode.BAD_INPUT
        )
    return found[0]


def start(
    plan_id: PlanIdArgument,
    auto_approve: Annotated[
        bool,
        typer.Option("--auto-approve", help="Cut over and clean up without waiting for approvals."),
    ] = False,
    rate: Annotated[
        float | None,
        typer.Option("--rate", min=0.001, help="Copy throttle, keys/s (default: the plan's)."),
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Start DedupMigrationWorkflow for a stored plan (`dedup-migrate-<plan id>`)."""
    settings = settings_from(config)
    plan = _plan(settings, plan_id)

    async def _start() -> str:
        client = await temporal_client(settings)
        return await start_migration(
            client, settings, plan, auto_approve=auto_approve, rate_keys_per_s=rate
        )

    workflow_id = _run(_start())
    if json_output:
        print_json({"workflow_id": workflow_id, "plan": plan.id, "region": plan.region})
        return
    console.print(
        f"started [bold]{workflow_id}[/bold]: region {plan.region}, ring {plan.from_ring} -> "
        f"{plan.to_ring}, {plan.total_keys} keys to move"
        + (" (auto-approve)" if auto_approve else ""),
        highlight=False,
    )
    console.print(
        f"watch it: dedup-migrate status {plan.id} --watch", highlight=False, soft_wrap=True
    )


def status(
    plan_id: PlanIdArgument,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Follow it with a progress bar until it ends.")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Where the migration is: phase, pass, keys copied and verified, rate, ETA, what it waits
    for. With --watch: until it is done (exit 0) or rolled back (exit 1)."""
    settings = settings_from(config)
    if watch:
        final = _run(_watch(settings, plan_id, json_output))
        if final.stage is Stage.ROLLED_BACK:
            raise typer.Exit(int(ExitCode.FAILED))
        return

    async def _query() -> MigrationProgress:
        return await migration_progress(await temporal_client(settings), plan_id)

    progress = _run(_query())
    if json_output:
        print_json(progress.model_dump(mode="json"))
    else:
        _print_progress(progress)


async def _watch(settings: Settings, plan_id: str, json_output: bool) -> MigrationProgress:
    client: Client = await temporal_client(settings)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(migration_workflow_id(plan_id), total=None, detail="")
        while True:
            try:
                progress = await migration_progress(client, plan_id)
            except RPCError as exc:
                # No worker answered (one restarting): say so and ask again.
                bar.update(task, detail=f"no answer from a migrate worker yet ({exc})")
                await asyncio.sleep(1.0)
                continue
            if json_output:
                print_json(progress.model_dump(mode="json"))
            bar.update(
                task,
                description=f"{progress.stage.value} {progress.pass_name or ''}".strip(),
                completed=progress.pass_keys,
                total=max(progress.keys_to_move, progress.pass_keys) or None,
                detail=_detail(progress),
            )
            if progress.stage in (Stage.DONE, Stage.ROLLED_BACK):
                return progress
            await asyncio.sleep(1.0)


def _detail(progress: MigrationProgress) -> str:
    if progress.waiting_for:
        return f"waiting for {progress.waiting_for}"
    eta = f", ETA {format_duration(progress.eta_s)}" if progress.eta_s is not None else ""
    return f"{progress.rate_keys_per_s:g} keys/s{eta}"


def _print_progress(progress: MigrationProgress) -> None:
    table = Table(show_header=False, title=migration_workflow_id(progress.migration_id))
    rows = [
        ("region", f"{progress.region}: ring {progress.from_ring} -> {progress.to_ring}"),
        ("phase", progress.stage.value + (f" ({progress.step})" if progress.step else "")),
        ("routing epoch", f"{progress.route_epoch} ({progress.route_phase})"),
        ("pass", progress.pass_name or "-"),
        ("pair", f"{progress.pair.source} -> {progress.pair.target}" if progress.pair else "-"),
        ("keys to move (plan)", str(progress.keys_to_move)),
        ("keys copied", str(progress.keys_copied)),
        ("keys verified", str(progress.keys_verified)),
        ("keys cleaned", str(progress.keys_cleaned)),
        ("mismatches", str(progress.mismatches)),
        ("behind", str(progress.behind)),
        ("rate", f"{progress.rate_keys_per_s:g} keys/s"),
        ("ETA", format_duration(progress.eta_s) if progress.eta_s is not None else "-"),
        ("paused", "yes" if progress.paused else "no"),
        ("waiting for", progress.waiting_for or "-"),
    ]
    rows += [("mismatch list", key) for key in progress.mismatch_objects[:5]]
    if progress.last_error:
        rows.append(("last error", progress.last_error))
    if progress.refused:
        rows.append(("last refused", progress.refused))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def _control(
    settings: Settings, plan_id: str, control: str, rate: float | None = None
) -> ControlAnswer:
    async def _send() -> ControlAnswer:
        return await control_migration(await temporal_client(settings), plan_id, control, rate)

    return _run(_send())


def _report(answer: ControlAnswer, json_output: bool) -> None:
    if json_output:
        print_json(answer.model_dump(mode="json"))
    else:
        console.print(answer.message, highlight=False)


def approve(
    plan_id: PlanIdArgument,
    cleanup: Annotated[
        bool, typer.Option("--cleanup", help="Approve the cleanup instead of the cutover.")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Approve the cutover (or, with --cleanup, the cleanup). Refused with the reason (exit 1)
    when the migration is not waiting for it."""
    control = "approve_cleanup" if cleanup else "approve_cutover"
    _report(_control(settings_from(config), plan_id, control), json_output)


def pause(
    plan_id: PlanIdArgument, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """Stop at the next chunk boundary until `resume`."""
    _report(_control(settings_from(config), plan_id, "pause"), json_output)


def resume(
    plan_id: PlanIdArgument, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """Go on after a pause, an error, or mismatches that were repaired (verify runs again)."""
    _report(_control(settings_from(config), plan_id, "resume"), json_output)


def rate(
    plan_id: PlanIdArgument,
    keys_per_s: Annotated[float, typer.Argument(help="The new copy throttle, keys/s.")],
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change the copy throttle; it applies from the next run (within seconds)."""
    _report(_control(settings_from(config), plan_id, "set_rate", keys_per_s), json_output)


def rollback(
    plan_id: PlanIdArgument, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """Restore the previous routing epoch and remove the copied keys. Refused (exit 1) once
    cleanup has begun."""
    _report(_control(settings_from(config), plan_id, "rollback"), json_output)


def register(app: typer.Typer) -> None:
    """Add the commands to the `dedup-migrate` application."""
    for command in (start, status, approve, pause, resume, rate, rollback):
        app.command(command.__name__)(command)
