"""`geoledger db migrate [--region R]...`: create or upgrade every dedup database of the regions."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any

import typer

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from ledger.errors import ConfigError
from storage.dedup import DedupError, RegionMigration, migrate_region

db_app = typer.Typer(help="The dedup store's databases: schema migrations.", no_args_is_help=True)


@db_app.callback()
def db() -> None:
    """The dedup store's databases: schema migrations."""


RegionOption = Annotated[
    list[str] | None,
    typer.Option("--region", "-r", help="Region to migrate (repeatable; default: every region)."),
]


@db_app.command("migrate")
def migrate(
    region: RegionOption = None, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """Apply pending schema migrations to each region's control database and shards (idempotent,
    safe to run from several nodes at once); the first run also creates routing epoch 1."""
    settings = settings_from(config)
    try:
        chosen = {name: settings.region(name) for name in region or sorted(settings.regions)}
    except ConfigError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    # One region after the other: a failure names its region, and later regions are untouched.
    reports: dict[str, RegionMigration] = {}
    for name, region_config in chosen.items():
        try:
            reports[name] = asyncio.run(migrate_region(region_config))
        except DedupError as exc:
            for done, report in reports.items():
                _print_region(done, report)
            fail(f"region {name}: {exc}", ExitCode.FAILED)
    if json_output:
        print_json({"regions": {name: _as_dict(report) for name, report in reports.items()}})
        return
    for name, report in reports.items():
        _print_region(name, report)


def _as_dict(report: RegionMigration) -> dict[str, Any]:
    route = report.created_route
    return {
        "databases": [dataclasses.asdict(db) for db in report.databases],
        "created_route": None if route is None else dataclasses.asdict(route),
    }


def _print_region(name: str, report: RegionMigration) -> None:
    for db in report.databases:
        applied = ", ".join(db.applied) if db.applied else "up to date"
        console.print(f"{name} {db.database} ({db.location}): {applied}", highlight=False)
    if report.created_route is not None:
        route = report.created_route
        console.print(
            f"{name} routing: created epoch {route.epoch}, "
            f"{route.ring_size} shard(s), {route.phase}",
            highlight=False,
        )
