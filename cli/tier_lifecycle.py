"""`geoledger tier lifecycle plan | apply`: each region's bucket lifecycle rules for cold packs,
shown as a diff against what the bucket has, and written.

Exit codes: 0 nothing to do (plan) or applied and checked (apply); 1 `plan --exit-code` found
changes, or a bucket read back after apply differs from what was written; 2 invalid input (an
unknown region, a policy that breaks a rule, a bucket that does not exist); 3 a control database
or an object store cannot be reached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.table import Table

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from ledger.errors import ConfigError
from ledger.tier_policy import TierPolicyError
from storage.objectstore import ObjectNotFound, ObjectStoreError, Unavailable
from storage.tiering.lifecycle_plan import Change
from workers.tier_lifecycle import (
    LifecycleCheckError,
    RegionLifecycle,
    apply_regions,
    plan_regions,
)
from workers.tier_policy import TierPolicyUnavailableError

_T = TypeVar("_T")

lifecycle_app = typer.Typer(
    help="Bucket lifecycle rules for cold packs, derived from the tenants' policies.",
    no_args_is_help=True,
)

RegionOption = Annotated[
    list[str] | None,
    typer.Option("--region", "-r", help="Only this region's bucket (repeatable; default: all)."),
]
_STYLES = {
    Change.ADD: "green",
    Change.CHANGE: "yellow",
    Change.REMOVE: "red",
    Change.KEEP: "",
    Change.NOT_OURS: "dim",
}


@lifecycle_app.command("plan")
def plan(
    region: RegionOption = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when the plan would change a bucket.")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show, per region, what `apply` would change in the bucket's lifecycle rules."""
    settings = settings_from(config)
    regions = _run(plan_regions(settings, region or []))
    _print(regions, json_output, applied=False)
    if exit_code and any(r.plan is not None and r.plan.has_changes for r in regions):
        raise typer.Exit(int(ExitCode.FAILED))


@lifecycle_app.command("apply")
def apply(
    region: RegionOption = None, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """Write each region's plan to its bucket, then read the bucket back and check it."""
    settings = settings_from(config)
    _print(_run(apply_regions(settings, region or [])), json_output, applied=True)


def _run(operation: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(operation)
    except (ConfigError, TierPolicyError) as exc:
        _fail_invalid(exc)
    except ObjectNotFound as exc:
        fail(f"{exc} (does the bucket exist?)", ExitCode.BAD_INPUT)
    except (TierPolicyUnavailableError, Unavailable) as exc:
        fail(str(exc), ExitCode.UNAVAILABLE)
    except (ObjectStoreError, LifecycleCheckError) as exc:
        fail(str(exc), ExitCode.FAILED)


def _fail_invalid(exc: ConfigError | TierPolicyError) -> NoReturn:
    if isinstance(exc, TierPolicyError) and len(exc.problems) > 1:
        fail("\n".join(f"  - {problem}" for problem in exc.problems), ExitCode.BAD_INPUT)
    fail(str(exc), ExitCode.BAD_INPUT)


def _print(regions: list[RegionLifecycle], json_output: bool, *, applied: bool) -> None:
    if json_output:
        print_json({"applied": applied, "regions": {r.region: _as_dict(r) for r in regions}})
        return
    for region in regions:
        if region.plan is None:
            console.print(f"{region.region} ({region.bucket}): {region.note}")
            continue
        verb = "applied to" if applied else "plan for"
        table = Table(title=f"lifecycle {verb} {region.region} ({region.bucket})")
        for column in ("change", "prefix", "action", "bucket has", "planned"):
            table.add_column(column)
        for entry in region.plan.entries:
            table.add_row(
                str(entry.change),
                entry.prefix,
                entry.action,
                entry.current,
                entry.planned,
                style=_STYLES[entry.change],
            )
        console.print(table)
        if not region.plan.has_changes:
            console.print(f"{region.region}: nothing to change")


def _as_dict(region: RegionLifecycle) -> dict[str, Any]:
    if region.plan is None:
        return {"bucket": region.bucket, "note": region.note, "changes": False, "entries": []}
    return {
        "bucket": region.bucket,
        "changes": region.plan.has_changes,
        "entries": [
            {
                "change": str(entry.change),
                "prefix": entry.prefix,
                "action": entry.action,
                "current": entry.current,
                "planned": entry.planned,
            }
            for entry in region.plan.entries
        ],
    }
