"""`dedup-migrate`: online re-sharding of a region's dedup store.

`plan` measures and checks a re-sharding and stores the plan; `plans` lists the stored ones;
`start`, `status`, `approve`, `pause`, `resume`, `rate` and `rollback` run a plan and steer it
(cli/dedup_migrate_run.py).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    console,
    err_console,
    fail,
    print_json,
    settings_from,
)
from cli.dedup_migrate_run import register
from cli.durations import format_duration
from ledger.byte_size import human_bytes
from ledger.config import RegionConfig, Settings
from ledger.errors import ConfigError
from ledger.migration_plan import CheckStatus, MigrationPlan, PlanReport
from storage.dedup.errors import DedupUnavailableError, MigrationError, RoutingError
from storage.dedup.plan import PlanOutcome, plan_migration, stored_plans

app = typer.Typer(
    help="Online re-sharding of the dedup store.",
    no_args_is_help=True,
    # As `geoledger` (cli/main.py): docstring lines joined into paragraphs.
    rich_markup_mode="markdown",
)

RegionOption = Annotated[str, typer.Option("--region", "-r", help="The region to re-shard.")]


@app.callback()
def main() -> None:
    """Online re-sharding of the dedup store."""


@app.command("plan")
def plan(
    region: RegionOption,
    to: Annotated[int, typer.Option("--to", min=1, help="Shards of the target ring.")],
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate", min=0.001, help="Copy throttle, keys/s (default: [migrate] rate_keys_per_s)."
        ),
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Measure the keys and bytes that move from each shard to each shard of a TO-shard ring,
    estimate the copy time, check the preconditions and store the plan. Exit 0 planned, 1 a
    precondition failed (nothing stored), 2 bad input, 3 a database unreachable."""
    settings = settings_from(config)
    region_config = _region(settings, region)
    rate_keys_per_s = rate if rate is not None else settings.migrate.rate_keys_per_s
    with err_console.status("planning") as status:
        try:
            outcome = asyncio.run(
                plan_migration(
                    region,
                    region_config,
                    to,
                    rate_keys_per_s,
                    lambda what: status.update(what),
                )
            )
        except DedupUnavailableError as exc:
            fail(str(exc), ExitCode.UNAVAILABLE)
        except (RoutingError, MigrationError) as exc:
            fail(str(exc), ExitCode.FAILED)
    if json_output:
        shown = outcome.plan if outcome.plan is not None else outcome.report
        print_json(shown.model_dump(mode="json"))
    else:
        _print_outcome(outcome)
    if outcome.report.unreachable:
        raise typer.Exit(int(ExitCode.UNAVAILABLE))
    if outcome.plan is None:
        raise typer.Exit(int(ExitCode.FAILED))


@app.command("plans")
def plans(
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Only this region (default: all).")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the stored plans, oldest first."""
    settings = settings_from(config)
    regions = {region: _region(settings, region)} if region is not None else settings.regions
    found: list[MigrationPlan] = []
    for name, region_config in sorted(regions.items()):
        try:
            found.extend(asyncio.run(stored_plans(name, region_config)))
        except DedupUnavailableError as exc:
            fail(f"region {name}: {exc}", ExitCode.UNAVAILABLE)
        except MigrationError as exc:
            fail(f"region {name}: {exc}", ExitCode.FAILED)
    if json_output:
        print_json({"plans": [p.model_dump(mode="json") for p in found]})
        return
    table = Table("id", "region", "ring", "epoch", "keys", "bytes", "copy at rate", "state")
    for p in found:
        table.add_row(
            p.id,
            p.region,
            f"{p.from_ring} -> {p.to_ring}",
            str(p.routing_epoch),
            str(p.total_keys),
            human_bytes(p.total_bytes),
            f"{format_duration(p.estimated_copy_s)} at {p.rate_keys_per_s:g} keys/s",
            p.state.value + (f" ({p.workflow_id})" if p.workflow_id else ""),
        )
    console.print(table)


def _region(settings: Settings, name: str) -> RegionConfig:
    try:
        return settings.region(name)
    except ConfigError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)


_MARKS = {CheckStatus.OK: "[green]ok[/green]", CheckStatus.FAILED: "[red]failed[/red]"}


def _print_outcome(outcome: PlanOutcome) -> None:
    report: PlanReport = outcome.report
    console.print(
        f"region {report.region}: ring {report.from_ring} -> {report.to_ring} shards "
        f"(routing epoch {report.routing_epoch})",
        highlight=False,
    )
    if report.moves:
        table = Table("source", "target", "keys", "bytes", "copies", title="moves")
        for move in report.moves:
            table.add_row(
                str(move.source),
                str(move.target),
                str(move.keys),
                human_bytes(move.bytes),
                str(move.copies),
            )
        console.print(table)
        keys = sum(m.keys for m in report.moves)
        console.print(
            f"{keys} keys, {human_bytes(sum(m.bytes for m in report.moves))} to copy: about "
            f"{format_duration(report.estimated_copy_s)} at {report.rate_keys_per_s:g} keys/s",
            highlight=False,
        )
    checks = Table("check", "shard", "status", "reason", title="preconditions")
    for check in report.checks:
        checks.add_row(
            check.name,
            "" if check.shard is None else str(check.shard),
            _MARKS.get(check.status, "[yellow]unknown[/yellow]"),
            check.reason,
        )
    console.print(checks)
    if outcome.plan is not None:
        console.print(f"stored plan [bold]{outcome.plan.id}[/bold]")
    else:
        console.print("[red]not stored[/red]: a precondition failed")


register(app)
