"""`geoledger ops serve | openapi | shards | distribution | sample | key | migrations`: the
read-only ops API, and the same answers on the command line (through the same service
functions, not HTTP; `--json` prints exactly what the API answers)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel

from api.ops.app import DEFAULT_SAMPLE, MAX_SAMPLE
from api.ops.errors import MigrationNotFound, RegionsUnavailable
from api.ops.service import OpsService
from cli.common import ConfigOption, ExitCode, JsonOption, fail, print_json, settings_from
from cli.ops_tables import (
    print_distribution,
    print_key,
    print_migration,
    print_migrations,
    print_sample,
    print_shards,
)
from ledger.envelope import check_tenant_id, check_token

ops_app = typer.Typer(help="The read-only ops API over every region's dedup shards.")

_Answer = TypeVar("_Answer", bound=BaseModel)


@ops_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default from config).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default from config).")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the ops API. Every request needs `Authorization: Bearer <token>`, the token being
    the value of the environment variable the ops.token_env setting names (default
    GEOLEDGER_OPS_TOKEN);
    without one configured every request is answered 503."""
    from api.ops.serve import run_ops_api

    settings = settings_from(config)
    run_ops_api(settings, host or settings.ops.host, port or settings.ops.port)


@ops_app.command("openapi")
def openapi() -> None:
    """Print the ops API's OpenAPI document (committed as docs/ops-openapi.json)."""
    from api.ops.openapi import openapi_document

    sys.stdout.write(openapi_document())


@ops_app.command("shards")
def shards(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Per region and shard: keys, bytes, reachable or the error, applied positions per stream
    and how many records each shard is behind the region's furthest one."""
    answer = _ask(config, lambda service: service.shards())
    _show(answer, json_output, print_shards)
    if all(region.error for region in answer.regions):
        fail("no region's control database answered", ExitCode.UNAVAILABLE)


@ops_app.command("distribution")
def distribution(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Per region: keys per shard of the current ring and each shard's share of them."""
    answer = _ask(config, lambda service: service.distribution())
    _show(answer, json_output, print_distribution)
    if all(region.error for region in answer.regions):
        fail("no region's control database answered", ExitCode.UNAVAILABLE)


@ops_app.command("sample")
def sample(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant whose keys to sample.")],
    n: Annotated[int, typer.Option("-n", help=f"Keys per region (1-{MAX_SAMPLE}).")] = (
        DEFAULT_SAMPLE
    ),
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Up to N random keys of the tenant in every region, each with the shard that holds it."""
    _check("tenant", tenant, check_tenant_id)
    if not 1 <= n <= MAX_SAMPLE:
        fail(f"n: expected 1 to {MAX_SAMPLE}, got {n}", ExitCode.BAD_INPUT)
    answer = _ask(config, lambda service: service.sample_keys(tenant, n))
    _show(answer, json_output, print_sample)


@ops_app.command("key")
def key(
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    event_id: Annotated[str, typer.Argument(help="Event id.")],
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Per region: the key's shard under the current ring (and the next while migrating),
    whether that shard holds it, and the tier its body is in."""
    _check("tenant", tenant, check_tenant_id)
    _check("event_id", event_id, check_token)
    answer = _ask(config, lambda service: service.locate_key(tenant, event_id))
    _show(answer, json_output, print_key)


@ops_app.command("migrations")
def migrations(
    migration_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="One run (default: all of them).")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """The re-sharding runs the regions' routing tables record, or run ID alone (exit 1 when
    no region knows it, 3 when a region that might could not be read)."""
    if migration_id is None:
        _show(_ask(config, lambda service: service.migrations()), json_output, print_migrations)
        return
    try:
        found = _ask(config, lambda service: service.migration(migration_id))
    except MigrationNotFound as exc:
        fail(exc.message, ExitCode.FAILED)
    except RegionsUnavailable as exc:
        fail(exc.message, ExitCode.UNAVAILABLE)
    _show(found, json_output, print_migration)


def _ask(config: ConfigOption, question: Callable[[OpsService], Awaitable[_Answer]]) -> _Answer:
    settings = settings_from(config)

    async def answer() -> _Answer:
        async with OpsService.from_settings(settings) as service:
            return await question(service)

    return asyncio.run(answer())


def _show(answer: _Answer, json_output: bool, table: Callable[[_Answer], None]) -> None:
    if json_output:
        print_json(answer.model_dump(mode="json"))
    else:
        table(answer)


def _check(name: str, value: str, check: Callable[[str], None]) -> None:
    try:
        check(value)
    except ValueError as exc:
        fail(f"{name}: {exc}", ExitCode.BAD_INPUT)
