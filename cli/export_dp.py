"""`geoledger export dp`: a differentially private aggregate of a tenant's events, with the
error bars, the contribution clamp and the sensitivity it was released under, charged to the
tenant's budget before it is shown (storage/dp/export.py)."""

from __future__ import annotations

import asyncio
import csv
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from cli.dp_options import WhoOption, fail_dp, operator
from cli.events import restoring
from ledger.dp_measure import PRIVACY_UNIT
from ledger.dp_query import parse_query
from ledger.errors import ConfigError, DpInputError
from storage.dp.budget_db import budget_region
from storage.dp.errors import DpError
from storage.dp.export import ExportResult, run_export
from storage.tiering.read_errors import BodyArchived, TieredReadError

export_app = typer.Typer(help="Export aggregates of a tenant's events.")


@export_app.command("dp")
def export_dp(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")],
    query: Annotated[str, typer.Option("--query", help="counts_by_type, counts_by_day or sum.")],
    epsilon: Annotated[str, typer.Option("--epsilon", help="Epsilon this export spends, > 0.")],
    mechanism: Annotated[str, typer.Option("--mechanism", help="laplace or gaussian.")],
    delta: Annotated[
        str, typer.Option("--delta", help="Delta this export spends (gaussian: > 0).")
    ] = "0",
    types: Annotated[
        str | None,
        typer.Option("--types", help="counts_by_type: the public types, comma-separated."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", formats=["%Y-%m-%d"], help="counts_by_day: first day."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--until", formats=["%Y-%m-%d"], help="counts_by_day: last day (UTC today)."),
    ] = None,
    field: Annotated[str | None, typer.Option("--field", help="sum: the payload field.")] = None,
    lower: Annotated[int | None, typer.Option("--lower", help="sum: clamp lower bound.")] = None,
    upper: Annotated[int | None, typer.Option("--upper", help="sum: clamp upper bound.")] = None,
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Region to read (default: budget region).")
    ] = None,
    who: WhoOption = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    csv_output: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Release counts_by_type, counts_by_day or a clamped sum of the tenant's events with
    OpenDP's discrete Laplace or Gaussian noise. The spend is recorded before anything is shown;
    an export over the budget is refused with exit 6, the remaining budget, and no change."""
    settings = settings_from(config)
    if json_output and csv_output:
        fail("expected at most one of --json and --csv", ExitCode.BAD_INPUT)
    last = until.date() if until else datetime.now(UTC).date()
    first = since.date() if since else last - timedelta(days=settings.dp.days - 1)
    try:
        parsed = parse_query(
            tenant=tenant,
            query=query,
            mechanism=mechanism,
            epsilon=epsilon,
            delta=delta,
            types=_types(types) if types is not None else settings.dp.types,
            since=first,
            until=last,
            bounds=(field, lower, upper),
        )
        result = asyncio.run(run_export(settings, parsed, operator(who), region))
    except (DpInputError, ConfigError, DpError) as exc:
        fail_dp(exc)
    except BodyArchived as exc:
        # As `geoledger events get` does: start the pack's restore, exit 4, retry later.
        message, code = asyncio.run(restoring(settings, region or budget_region(settings), exc))
        fail(f"{message}; nothing was spent", code)
    except TieredReadError as exc:
        fail(f"{exc}; nothing was spent", ExitCode.FAILED)
    if json_output:
        print_json(result.as_json())
    elif csv_output:
        _print_csv(result)
    else:
        _print_table(result)


def _types(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(","))


def _statement(result: ExportResult) -> list[str]:
    m = result.measurement
    norm = "L1" if result.query.mechanism.value == "laplace" else "L2"
    return [
        f"privacy unit: {PRIVACY_UNIT}",
        f"clamp: {m.clamp}",
        f"sensitivity ({norm}, one event): {m.sensitivity}",
        f"mechanism: discrete {result.query.mechanism.value}, scale {m.scale:.6g}; cost "
        f"{result.query.cost.describe()}",
        f"error: each figure's noise is within +/- the error with probability "
        f"{result.confidence:.0%} (per figure)",
        f"spend #{result.spend_id} by {result.who}; budget left "
        f"{result.budget.remaining.describe()}",
    ]


def _print_table(result: ExportResult) -> None:
    title = f"{result.query.kind.value} of {result.query.tenant} in {result.region}"
    table = Table(title=title)
    for column in ("cell", "value", f"± ({result.confidence:.0%})", "interval"):
        table.add_column(column, justify="left" if column == "cell" else "right")
    for f in result.figures:
        table.add_row(
            f.label, str(f.value), str(f.error), f"[{f.value - f.error}, {f.value + f.error}]"
        )
    console.print(table)
    for line in _statement(result):
        console.print(line, highlight=False, markup=False)


def _print_csv(result: ExportResult) -> None:
    for line in _statement(result):
        sys.stdout.write(f"# {line}\n")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["cell", "value", "error", "low", "high", "confidence"])
    for f in result.figures:
        writer.writerow(
            [f.label, f.value, f.error, f.value - f.error, f.value + f.error, result.confidence]
        )
