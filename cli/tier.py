"""`geoledger tier policy show | set | unset`: tenants' tiering policies in every region."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.table import Table

from cli import tier_demote, tier_dicts
from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from cli.tier_lifecycle import lifecycle_app
from cli.tier_status import status
from ledger.tier_policy import COLD_CLASSES, PolicySource, TierPolicyError, build_override
from workers.tier_policy import (
    RegionPolicy,
    TierPolicyUnavailableError,
    set_policy,
    show_policy,
    unset_policy,
)

tier_app = typer.Typer(
    help="Tiered storage of event bodies: hot, warm, cold.", no_args_is_help=True
)
policy_app = typer.Typer(
    help="Per-tenant tiering policies: geoledger.toml defaults, overrides in every region.",
    no_args_is_help=True,
)
tier_app.add_typer(policy_app, name="policy")
tier_app.add_typer(lifecycle_app, name="lifecycle")
tier_demote.register(tier_app)
tier_dicts.register(tier_app)
tier_app.command("status")(status)

_T = TypeVar("_T")

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="The tenant.")]
_SOURCE_LABELS = {
    PolicySource.DEFAULT: "[tiering]",
    PolicySource.CONFIG: "[tenants]",
    PolicySource.OVERRIDE: "control db",
}


@policy_app.command("show")
def show(
    tenant: TenantOption, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """The tenant's effective policy in each region and where each field comes from."""
    settings = settings_from(config)
    _print(tenant, _run(show_policy(settings, tenant)), json_output)


@policy_app.command("set")
def set_(
    tenant: TenantOption,
    hot_ttl_days: Annotated[
        int | None, typer.Option(help="Days a body stays hot (in its Postgres row).")
    ] = None,
    warm_ttl_days: Annotated[
        int | None, typer.Option(help="Days after which a body leaves warm for cold.")
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(help="Days after which records are deleted.")
    ] = None,
    compression: Annotated[
        bool | None, typer.Option("--compression/--no-compression", help="zstd warm/cold bodies.")
    ] = None,
    level: Annotated[int | None, typer.Option(help="zstd compression level, 1-22.")] = None,
    dictionary: Annotated[
        bool | None,
        typer.Option("--dictionary/--no-dictionary", help="Compress with the tenant's dictionary."),
    ] = None,
    cold_class: Annotated[
        list[str] | None,
        typer.Option(
            help="Storage class of cold packs as KIND=CLASS, KIND s3 or gcs (repeatable), "
            "e.g. s3=GLACIER_IR."
        ),
    ] = None,
    promote_on_read: Annotated[
        bool | None,
        typer.Option(
            "--promote-on-read/--no-promote-on-read", help="Move bodies read below hot to hot."
        ),
    ] = None,
    legal_hold: Annotated[
        bool | None, typer.Option("--legal-hold/--no-legal-hold", help="Stop every deletion.")
    ] = None,
    legal_hold_days: Annotated[
        int | None, typer.Option(help="Minimum retention the law requires, in days.")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Override policy fields for the tenant in every region. Nothing is written anywhere when
    the resulting policy of any region is invalid."""
    settings = settings_from(config)
    values = {
        "hot_ttl_days": hot_ttl_days,
        "warm_ttl_days": warm_ttl_days,
        "retention_days": retention_days,
        "compression": compression,
        "compression_level": level,
        "dictionary": dictionary,
        "promote_on_read": promote_on_read,
        "legal_hold": legal_hold,
        "legal_hold_days": legal_hold_days,
        **_cold_classes(cold_class or []),
    }
    try:
        changes = build_override({k: v for k, v in values.items() if v is not None})
    except TierPolicyError as exc:
        _fail_invalid(exc)
    _print(tenant, _run(set_policy(settings, tenant, changes)), json_output)


@policy_app.command("unset")
def unset(
    fields: Annotated[
        list[str], typer.Argument(help="Policy fields to take from geoledger.toml again.")
    ],
    tenant: TenantOption,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove fields from the tenant's override in every region."""
    settings = settings_from(config)
    _print(tenant, _run(unset_policy(settings, tenant, fields)), json_output)


def _cold_classes(specs: list[str]) -> dict[str, str]:
    """`--cold-class KIND=CLASS` values as policy fields (`cold_class_<kind>`)."""
    fields: dict[str, str] = {}
    for spec in specs:
        kind, _, storage_class = spec.partition("=")
        if kind not in COLD_CLASSES or not storage_class:
            fail(
                f"--cold-class: expected KIND=CLASS with KIND one of {', '.join(COLD_CLASSES)}, "
                f"got {spec!r}",
                ExitCode.BAD_INPUT,
            )
        fields[f"cold_class_{kind}"] = storage_class
    return fields


def _run(operation: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(operation)
    except TierPolicyError as exc:
        _fail_invalid(exc)
    except TierPolicyUnavailableError as exc:
        fail(str(exc), ExitCode.UNAVAILABLE)


def _fail_invalid(exc: TierPolicyError) -> NoReturn:
    if len(exc.problems) == 1:
        fail(exc.problems[0], ExitCode.BAD_INPUT)
    fail(
        f"{len(exc.problems)} problems, nothing changed:\n"
        + "\n".join(f"  - {problem}" for problem in exc.problems),
        ExitCode.BAD_INPUT,
    )


def _print(tenant: str, policies: list[RegionPolicy], json_output: bool) -> None:
    if json_output:
        print_json({"tenant": tenant, "regions": {p.region: _as_dict(p) for p in policies}})
        return
    table = Table(title=f"tier policy of tenant {tenant}")
    table.add_column("field")
    for policy in policies:
        table.add_column(policy.region)
        table.add_column("from")
    for field in type(policies[0].policy).model_fields:
        cells = [field]
        for policy in policies:
            value = getattr(policy.policy, field)
            cells += ["-" if value is None else str(value), _SOURCE_LABELS[policy.sources[field]]]
        table.add_row(*cells)
    console.print(table)


def _as_dict(policy: RegionPolicy) -> dict[str, Any]:
    return {
        "policy": policy.policy.model_dump(),
        "sources": {field: str(source) for field, source in policy.sources.items()},
        "override": policy.override.fields() if policy.override else {},
    }
