"""`geoledger crr start | status | pause | resume`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from cli.common import ConfigOption, JsonOption, console, print_json, settings_from, temporal_client
from workers.crr_control import signal_crr, start_crr
from workers.crr_report import StreamTargetStatus, crr_report

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

    for workflow_id in asyncio.run(run()):
        console.print(f"{signal}d: {workflow_id}")


@crr_app.command("status")
def status(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Per stream and target: shipped and applied watermarks, lag, pauses, gaps, last error."""
    settings = settings_from(config)

    async def run() -> list[StreamTargetStatus]:
        return await crr_report(await temporal_client(settings), settings)

    rows = asyncio.run(run())
    if json_output:
        print_json({"streams": [row.as_dict() for row in rows]})
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
    for row in rows:
        state = "paused" if row.ship_paused or row.replay_paused else "running"
        if row.ship_paused is None and row.replay_paused is None:
            state = "not started"
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
