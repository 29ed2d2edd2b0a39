"""`geoledger dev up | status | down`: the embedded stack on loopback."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from storage.embedded.errors import StackError
from storage.embedded.stack import EmbeddedStack, PartStatus

dev_app = typer.Typer(help="Run the embedded stack: Temporal, PostgreSQL, S3 and GCS on loopback.")


@dev_app.command("up")
def up(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Start every part that is not running, create databases and buckets (idempotent)."""
    stack = EmbeddedStack(settings_from(config))
    started = time.monotonic()
    try:
        status = stack.up()
    except StackError as exc:
        fail(str(exc), ExitCode.UNAVAILABLE)
    _report(status, json_output, elapsed=time.monotonic() - started)


@dev_app.command("status")
def status(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Endpoints and health of each part; exit code 3 when any part is down."""
    parts = EmbeddedStack(settings_from(config)).status()
    _report(parts, json_output)
    if not all(part.healthy for part in parts.values()):
        raise typer.Exit(int(ExitCode.UNAVAILABLE))


@dev_app.command("down")
def down(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Stop what `dev up` started, and nothing else."""
    stopped = EmbeddedStack(settings_from(config)).down()
    if json_output:
        print_json({"stopped": stopped})
    else:
        console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


def _report(parts: dict[str, PartStatus], json_output: bool, elapsed: float | None = None) -> None:
    if json_output:
        document = {name: part.as_dict() for name, part in parts.items()}
        print_json({"parts": document, **({"seconds": round(elapsed, 2)} if elapsed else {})})
        return
    table = Table(title="geoledger embedded stack")
    for column in ("part", "endpoint", "pid", "health", "log"):
        table.add_column(column)
    for name, part in parts.items():
        health = "[green]up[/green]" if part.healthy else "[red]down[/red]"
        table.add_row(name, part.endpoint, str(part.pid or "-"), health, part.log)
    console.print(table)
    if elapsed is not None:
        console.print(f"ready in {elapsed:.1f}s; web UI: {parts['temporal-ui'].endpoint}")
