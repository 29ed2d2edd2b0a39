"""`geoledger tier train-dict --tenant T [--region R]` and `geoledger tier dicts --tenant T`: a
tenant's zstd dictionaries per region, and how many warm and cold bodies need each."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from ledger.tier_policy import TierPolicyError
from storage.tiering.dictionary_records import DictionaryRecord
from storage.tiering.errors import DictionaryTrainingError
from workers.tier_dicts import (
    DictionaryInUse,
    TrainedDictionary,
    dictionaries_in_use,
    train_dictionaries,
)

_T = TypeVar("_T")

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="The tenant.")]


def register(tier_app: typer.Typer) -> None:
    """Add `train-dict` and `dicts` to the `tier` command group."""
    tier_app.command("train-dict")(train_dict)
    tier_app.command("dicts")(dicts)


def train_dict(
    tenant: TenantOption,
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Only this region (default: every one).")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Train the tenant's zstd dictionary from a sample of its bodies in each region, store it in
    the region's object store and make it the tenant's current one there (demotion compresses
    with it when the tenant's policy has dictionary on)."""
    settings = settings_from(config)
    trained = _run(train_dictionaries(settings, tenant, region))
    if json_output:
        print_json({"tenant": tenant, "regions": {t.region: _trained_json(t) for t in trained}})
        return
    for one in trained:
        record = one.record
        console.print(
            f"{one.region}: dictionary {record.dict_id} version {record.version} "
            f"({record.dict_bytes} bytes{'' if one.stored else ', already stored'}) from "
            f"{record.sample_bodies} bodies; held-out ratio {record.ratio_dict:.2f}x "
            f"(plain zstd {record.ratio_zstd:.2f}x)",
            highlight=False,
        )


def dicts(
    tenant: TenantOption, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """The tenant's dictionaries in each region and how many warm and cold bodies need each.
    No dictionary is ever deleted: a body names the one it needs."""
    settings = settings_from(config)
    regions = _run(dictionaries_in_use(settings, tenant))
    if json_output:
        print_json(
            {
                "tenant": tenant,
                "regions": {r: [_in_use_json(d) for d in ds] for r, ds in regions.items()},
            }
        )
        return
    table = Table(title=f"dictionaries of tenant {tenant}")
    for column in ("region", "dictionary", "version", "current", "ratio", "warm", "cold"):
        table.add_column(column, justify="right" if column in ("warm", "cold") else "left")
    for name, listed in regions.items():
        for one in listed:
            record = one.record
            table.add_row(
                name,
                one.dict_id,
                "-" if record is None else str(record.version),
                "yes" if one.current else "",
                "-" if record is None else f"{record.ratio_dict:.2f}x / {record.ratio_zstd:.2f}x",
                str(one.warm_bodies),
                str(one.cold_bodies),
            )
    console.print(table)


def _run(operation: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(operation)
    except TierPolicyError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    except DictionaryTrainingError as exc:
        fail(f"nothing changed: {exc}", ExitCode.BAD_INPUT)


def _record_json(record: DictionaryRecord) -> dict[str, Any]:
    created = record.created_at
    return {**asdict(record), "created_at": None if created is None else created.isoformat()}


def _trained_json(trained: TrainedDictionary) -> dict[str, Any]:
    return {**_record_json(trained.record), "stored": trained.stored}


def _in_use_json(one: DictionaryInUse) -> dict[str, Any]:
    return {
        "dict_id": one.dict_id,
        "current": one.current,
        "warm_bodies": one.warm_bodies,
        "cold_bodies": one.cold_bodies,
        "record": None if one.record is None else _record_json(one.record),
    }
