"""`geoledger crr start | status | pause | resume | repair-store`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

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
from ledger.config import Settings
from ledger.errors import ConfigError
from storage.crr.store_repair import StoreRepairReport
from storage.objectstore import ObjectStoreError
from workers.crr_control import signal_crr, start_crr
from workers.crr_repair import StoreRepairSummary, repair_stores
from workers.crr_report import StoreTargetStatus, StreamTargetStatus, crr_report, store_report
from workers.retired_report import RetiredStreamStatus, retired_report

crr_app = typer.Typer(help="Cross-region replication: shippers and replayers.")

RegionOption = Annotated[
    str | None, typer.Option("--region", "-r", help="Only this region's workflows.")
]


@crr_app.command("start")
def start(
    region: RegionOption = None,
    restart: Annotated[
        bool,
        typer.Option(help="Terminate running CRR workflows and start them afresh from the stores."),
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Ensure every shipper and replayer runs (idempotent)."""
    settings = settings_from(config)
    if region is not None:
        settings.region(region)

    async def run() -> list[str]:
        return await start_crr(await temporal_client(settings), settings, region, restart)

    ids = asyncio.run(run())
    if json_output:
        print_json({"workflows": ids})
    else:
        for workflow_id in ids:
            console.print(f"running: {workflow_id}")


@crr_app.command("pause")
def pause(region: RegionOption = None, config: ConfigOption = None) -> None:
    """Pause shipping and replay (the feature's rollback switch; resume loses nothing)."""
    _signal("pause", region, config)


@crr_app.command("resume")
def resume(region: RegionOption = None, config: ConfigOption = None) -> None:
    """Resume paused shippers and replayers (also clears a stop caused by an error)."""
    _signal("resume", region, config)


def _signal(signal: str, region: str | None, config: ConfigOption) -> None:
    settings = settings_from(config)

    async def run() -> list[str]:
        return await signal_crr(await temporal_client(settings), settings, signal, region)

    try:
        reached = asyncio.run(run())
    except TimeoutError as exc:  # a pause some workflow has not acknowledged (a worker down?)
        fail(str(exc))
    for workflow_id in reached:
        console.print(f"{signal}d: {workflow_id}")


@crr_app.command("status")
def status(
    config: ConfigOption = None,
    json_output: JsonOption = False,
    stores: Annotated[
        bool,
        typer.Option(help="Also compare every ship target's objects (one listing of each)."),
    ] = True,
) -> None:
    """Per stream and target: shipped and applied watermarks, lag, pauses, gaps, last error; and
    per ship target whether it holds every manifest and segment its peers hold."""
    settings = settings_from(config)

    async def run() -> tuple[
        list[StreamTargetStatus], list[StoreTargetStatus], list[RetiredStreamStatus]
    ]:
        rows = await crr_report(await temporal_client(settings), settings)
        store_rows = await store_report(settings) if stores else []
        return rows, store_rows, await retired_report(settings)

    rows, store_rows, retired = asyncio.run(run())
    if json_output:
        print_json(
            {
                "streams": [row.as_dict() for row in rows],
                "stores": [row.as_dict() for row in store_rows],
                "retired": [row.as_dict() for row in retired],
            }
        )
        return
    table = Table(title="cross-region replication")
    for column in (
        "stream",
        "target",
        "shipped seq",
        "applied seq",
        "lag s",
        "state",
        "last error",
    ):
        table.add_column(column)
    retired_streams = {row.stream for row in retired}
    for row in rows:
        state = "paused" if row.ship_paused or row.replay_paused else "running"
        if row.ship_paused is None and row.replay_paused is None:
            state = "not started"
        if row.stream in retired_streams:
            state += ", retired"
        if row.gap_at_seq:
            state += f", gap at {row.gap_at_seq}"
        table.add_row(
            row.stream,
            row.target,
            "-" if row.shipped_seq is None else str(row.shipped_seq),
            str(row.applied_seq),
            "-" if row.lag_seconds is None else f"{row.lag_seconds:.1f}",
            state,
            row.last_error or "",
        )
    console.print(table)
    if store_rows:
        _print_stores(store_rows)
    if retired:
        _print_retired(retired)


def _print_retired(rows: list[RetiredStreamStatus]) -> None:
    table = Table(title="retired streams (their nodes left: nothing more comes)")
    for column in ("stream", "last seq", "applied", "state"):
        table.add_column(column)
    for row in rows:
        applied = ", ".join(f"{region}@{seq}" for region, seq in row.applied.items())
        state = "retired, complete" if row.complete else "retired, replaying"
        table.add_row(row.stream, str(row.last_seq), applied, state)
    console.print(table)


def _print_stores(rows: list[StoreTargetStatus]) -> None:
    table = Table(title="ship targets")
    for column in ("stream", "target", "missing objects", "state"):
        table.add_column(column)
    for row in rows:
        if row.error:
            state = f"[red]unreachable: {row.error}[/red]"
        elif row.complete:
            state = "complete"
        else:
            state = "[red]incomplete[/red] (geoledger crr repair-store)"
            state += "".join(f"; {problem}" for problem in row.problems[:3])
        table.add_row(
            row.stream, row.target, "-" if row.missing is None else str(row.missing), state
        )
    console.print(table)


@crr_app.command("repair-store")
def repair_store(
    region: RegionOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only compare the targets; copy nothing.")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compare every stream's ship targets (manifests and the segments they name) and copy what
    a target lacks from a peer, verified first. Exit 0 complete, 1 something is still missing
    (refused, conflicting or held by no target; with --dry-run: anything missing), 2 bad input,
    3 a store unreachable."""
    settings = settings_from(config)
    try:
        if region is not None:
            settings.region(region)
    except ConfigError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    try:
        summary = asyncio.run(_repair_with_progress(settings, region, dry_run, json_output))
    except ObjectStoreError as exc:
        fail(f"a ship target is unreachable: {exc}", ExitCode.UNAVAILABLE)
    if json_output:
        print_json(summary.as_dict())
    else:
        _print_repair(summary)
    if not summary.ok:
        raise typer.Exit(int(ExitCode.FAILED))


async def _repair_with_progress(
    settings: Settings, region: str | None, dry_run: bool, quiet: bool
) -> StoreRepairSummary:
    with Progress(console=console, transient=True, disable=quiet) as progress:
        task = progress.add_task("comparing ship targets", total=None)

        def window(stream: str, report: StoreRepairReport) -> None:
            progress.update(
                task,
                description=f"{stream}: through seq {report.through_seq}",
                advance=sum(report.repaired.values()),
            )

        return await repair_stores(settings, region, dry_run, window)


def _print_repair(summary: StoreRepairSummary) -> None:
    verb = "would copy" if summary.dry_run else "copied"
    table = Table(title="ship targets" + (" (dry run)" if summary.dry_run else ""))
    for column in ("stream", "target", "through seq", "missing", verb, "still missing"):
        table.add_column(column)
    for stream in summary.streams:
        for target in stream.missing:
            table.add_row(
                stream.stream,
                target,
                str(stream.through_seq),
                str(stream.missing[target]),
                str(0 if summary.dry_run else stream.repaired[target]),
                str(stream.remaining(target)),
            )
    console.print(table)
    for stream in summary.streams:
        for problem in stream.problems:
            where = problem.target or "every target"
            console.print(f"[red]{stream.stream} {where}:[/red] {problem.key}: {problem.reason}")
    console.print("[green]complete[/green]" if summary.ok else "[red]incomplete[/red]")
