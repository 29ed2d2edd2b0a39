"""`geoledger geo check | schedule`: compare regions' dedup state now, or every few minutes.

Both need a worker polling `geoledger-crr` (`geoledger worker run --queue geoledger-crr`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

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
from cli.durations import parse_duration
from ledger.config import Settings
from workers.geo_check import run_geo_check
from workers.geo_schedule import ensure_geo_schedule
from workflows import queues
from workflows.geo_divergence import SCHEDULE_ID, GeoDivergenceResult, PairComparison

geo_app = typer.Typer(
    help="Geo-divergence checks: do all regions hold the same records below their watermarks?",
    no_args_is_help=True,
)

SAMPLE_SHOWN = 3

TaskQueueOption = Annotated[
    str, typer.Option("--task-queue", hidden=True, help="Task queue of the check's worker.")
]


@geo_app.command("check")
def check(
    json_output: JsonOption = False,
    config: ConfigOption = None,
    task_queue: TaskQueueOption = queues.CRR,
) -> None:
    """Compare every pair of regions now and list the records that differ.

    Exit status: 0 no divergence, 1 divergence found (or the check failed), 3 Temporal is
    unreachable.
    """
    settings = settings_from(config)
    result = asyncio.run(_check(settings, task_queue, quiet=json_output))
    if json_output:
        print_json({**result.model_dump(mode="json"), "differing_keys": result.differing_keys})
    else:
        _print_result(settings, result)
    if result.differing_keys:
        raise typer.Exit(int(ExitCode.FAILED))


@geo_app.command("schedule")
def schedule(
    every: Annotated[
        str, typer.Option("--every", help="How often to check: 30s, 5m, 1h, 1h30m ...")
    ] = "5m",
    config: ConfigOption = None,
    task_queue: TaskQueueOption = queues.CRR,
) -> None:
    """Create or update the Temporal Schedule `geo-divergence` (idempotent)."""
    try:
        interval = parse_duration(every)
    except ValueError as exc:
        fail(f"--every: {exc}", ExitCode.BAD_INPUT)
    settings = settings_from(config)
    created = asyncio.run(_schedule(settings, interval, task_queue))
    console.print(
        f"schedule {SCHEDULE_ID} {'created' if created else 'updated'}: every {every}, "
        f"overlapping runs skipped, workflows on {task_queue}"
    )
    ui = settings.temporal.ui_url
    console.print(f"  {ui}/namespaces/{settings.temporal.namespace}/schedules/{SCHEDULE_ID}")


async def _check(settings: Settings, task_queue: str, quiet: bool) -> GeoDivergenceResult:
    client = await temporal_client(settings)
    if not quiet:
        err_console.print(
            f"checking on {task_queue}; waiting for the result "
            f"(a worker must poll it: geoledger worker run --queue {task_queue})",
            highlight=False,
        )
    try:
        return await run_geo_check(client, task_queue)
    except RPCError as exc:
        fail(f"Temporal at {settings.temporal.address}: {exc}", ExitCode.UNAVAILABLE)
    except WorkflowFailureError as exc:
        fail(f"the geo-divergence check failed: {exc.cause}", ExitCode.FAILED)


async def _schedule(settings: Settings, interval: timedelta, task_queue: str) -> bool:
    client = await temporal_client(settings)
    try:
        return await ensure_geo_schedule(client, interval, task_queue)
    except RPCError as exc:
        fail(f"Temporal at {settings.temporal.address}: {exc}", ExitCode.UNAVAILABLE)


def _print_result(settings: Settings, result: GeoDivergenceResult) -> None:
    table = Table(title=f"{result.workflow_id}")
    for column in ("pair", "stream", "upto", "records (a / b)", "differing", "sample"):
        table.add_column(column)
    for pair in result.pairs:
        _add_pair(table, pair)
    console.print(table)
    for pair in result.pairs:
        if pair.report_key:
            store = settings.regions[pair.a].object_store.url if pair.a in settings.regions else ""
            console.print(f"{pair.pair}: full report {store}/{pair.report_key}", highlight=False)
    if not result.pairs:
        console.print("fewer than two regions: nothing to compare")
    elif result.differing_keys:
        console.print(f"[red]{result.differing_keys} divergent record(s)[/red]")
    else:
        console.print("[green]no divergence[/green]")


def _add_pair(table: Table, pair: PairComparison) -> None:
    if pair.skipped:
        table.add_row(pair.pair, "-", "-", "-", "-", f"skipped: {pair.skipped}")
        return
    for stream in pair.streams:
        shown = [f"{d.seq} {d.kind} {d.key}" for d in stream.sample[:SAMPLE_SHOWN]]
        if stream.differing_keys > len(shown):
            shown.append("…")
        differing = f"{stream.differing_keys}{'+' if stream.truncated else ''}"
        table.add_row(
            pair.pair,
            stream.stream,
            str(stream.upto),
            f"{stream.records_a} / {stream.records_b}",
            differing,
            "\n".join(shown),
        )
