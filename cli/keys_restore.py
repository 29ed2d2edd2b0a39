"""`geoledger keys restore`: a region rebuilt on new disks gets every tenant key back from a
region that kept its control database (storage/keys/restore.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from ledger.errors import ConfigError
from storage.keys.restore import restore_tenant_keys


def register(keys_app: typer.Typer) -> None:
    """Add `restore` to the `keys` command group."""
    keys_app.command("restore")(restore)


def restore(
    region: Annotated[str, typer.Option("--region", "-r", help="The rebuilt region.")],
    source: Annotated[str, typer.Option("--from", help="A region that kept its keys.")],
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Copy every tenant key (revocations included) from one region's control database into a
    region rebuilt on new disks, after `geoledger db migrate` and before its nodes and replay
    start. Idempotent. Exit 2 for an unknown region, 1 when a database cannot be reached."""
    settings = settings_from(config)
    try:
        from_dsn, to_dsn = settings.region(source).control_dsn, settings.region(region).control_dsn
    except ConfigError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    try:
        copied = asyncio.run(restore_tenant_keys(from_dsn, to_dsn))
    except (OSError, asyncpg.PostgresError) as exc:
        fail(f"could not copy the keys: {exc}", ExitCode.FAILED)
    if json_output:
        print_json({"region": region, "from": source, "keys": copied})
    else:
        console.print(f"{copied} tenant keys copied from {source} into {region}")
