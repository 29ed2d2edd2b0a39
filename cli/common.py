"""What every command shares: loading the configuration, JSON output and exit codes."""

from __future__ import annotations

import json
import sys
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from temporalio.client import Client

from ledger.config import Settings, load_settings
from ledger.errors import ConfigError
from storage.embedded.s3 import use_dev_credentials
from workers.client import connect


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the command ran and something it checked or did failed
    BAD_INPUT = 2  # the command was given something it cannot use; nothing was changed
    UNAVAILABLE = 3  # a service the command needs is down
    RESTORING = 4  # what was asked for is being restored from an archive class: retry later
    PENDING = 5  # what was asked for is not there yet (e.g. an event not yet anchored): retry later
    OVER_BUDGET = 6  # a DP export would exceed the tenant's privacy budget; nothing was changed


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file (default: $GEOLEDGER_CONFIG or ./geoledger.toml).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

console = Console()
err_console = Console(stderr=True)


def settings_from(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    use_dev_credentials(settings)
    return settings


def fail(message: str, code: ExitCode = ExitCode.FAILED) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, markup=True)
    raise typer.Exit(int(code))


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


async def temporal_client(settings: Settings) -> Client:
    """Connect to Temporal, or exit with code 3 naming the address."""
    try:
        return await connect(settings)
    except ConfigError as exc:  # a [temporal] TLS file that cannot be read
        fail(str(exc), ExitCode.BAD_INPUT)
    except RuntimeError as exc:
        fail(f"Temporal at {settings.temporal.address} is unreachable: {exc}", ExitCode.UNAVAILABLE)
