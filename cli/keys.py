"""`geoledger keys create | list | revoke`: tenant signing keys in every region's registry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from ledger.config import Settings
from ledger.envelope import check_tenant_id
from ledger.errors import ConfigError
from ledger.keys import KEY_ID_PREFIX, generate_private_key, key_id_for, private_key_to_pem
from storage.keys import (
    KeyInputError,
    KeyNotFoundError,
    KeyRegistry,
    KeyRegistryError,
    NewPrivateKeyFile,
    PrivateKeyFileExistsError,
    TenantKey,
)

keys_app = typer.Typer(help="Tenant signing keys: create, list, revoke.", no_args_is_help=True)

_T = TypeVar("_T")

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="The tenant the key signs for.")]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="Private key file to create (default: `./<tenant>-<key id hex>.pem`)."
    ),
]
RegionsOption = Annotated[
    list[str] | None,
    typer.Option("--region", "-r", help="Register in this region only (repeatable; default: all)."),
]


@keys_app.command("create")
def create(
    tenant: TenantOption,
    out: OutOption = None,
    region: RegionsOption = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Generate an Ed25519 key pair, write the private key to a new 0600 PEM file and register
    only the public key. Refuses to overwrite an existing file."""
    settings = settings_from(config)
    try:
        check_tenant_id(tenant)
    except ValueError as exc:
        fail(f"--tenant: {exc}", ExitCode.BAD_INPUT)
    regions = _regions(settings, region)
    private_key = generate_private_key()
    public_key = private_key.public_key()
    key_id = key_id_for(public_key)
    path = out or Path(f"{tenant}-{key_id.removeprefix(KEY_ID_PREFIX)}.pem")
    try:
        claim = NewPrivateKeyFile(path)
    except PrivateKeyFileExistsError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    except OSError as exc:
        fail(f"--out: cannot create {path}: {exc.strerror}", ExitCode.BAD_INPUT)
    # The file is claimed first so an unusable path fails before anything is registered; if
    # registration fails, leaving the block removes the empty file.
    with claim:
        key = _run(settings, regions, lambda registry: registry.create(tenant, public_key))
        claim.write(private_key_to_pem(private_key))
    if json_output:
        print_json({**_as_dict(key), "private_key_file": str(path)})
        return
    console.print(f"created key {key.key_id} for tenant {key.tenant_id}", highlight=False)
    console.print(f"public key: {key.public_key_b64}", highlight=False)
    console.print(f"private key written to {path} (mode 0600)", highlight=False)
    console.print(f"registered in: {', '.join(key.regions)}", highlight=False)


@keys_app.command("list")
def list_keys(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant's keys.")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every registered key, with the regions that hold it and whether it is revoked."""
    settings = settings_from(config)
    keys = _run(settings, None, lambda registry: registry.list(tenant))
    if json_output:
        print_json({"keys": [_as_dict(key) for key in keys]})
        return
    table = Table(title="tenant keys")
    for column in ("key id", "tenant", "public key", "created", "revoked", "regions"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.key_id,
            key.tenant_id,
            key.public_key_b64,
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-",
            ", ".join(key.regions),
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id to revoke, e.g. ed25519:0123…")],
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke a key in every region. Events signed with it are rejected from then on (within
    the nodes' key cache lifetime, 2 s by default)."""
    settings = settings_from(config)
    key = _run(settings, None, lambda registry: registry.revoke(key_id))
    if json_output:
        print_json(_as_dict(key))
        return
    assert key.revoked_at is not None
    console.print(
        f"revoked key {key.key_id} of tenant {key.tenant_id} at "
        f"{key.revoked_at.isoformat(timespec='seconds')} in {', '.join(key.regions)}",
        highlight=False,
    )


def _regions(settings: Settings, names: list[str] | None) -> list[str] | None:
    try:
        for name in names or []:
            settings.region(name)
    except ConfigError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    return names or None


def _run(
    settings: Settings,
    regions: list[str] | None,
    operation: Callable[[KeyRegistry], Awaitable[_T]],
) -> _T:
    """Open the registry, run one operation, close it; map registry errors to exit codes."""

    async def run() -> _T:
        async with await KeyRegistry.open(settings, regions=regions) as registry:
            return await operation(registry)

    try:
        return asyncio.run(run())
    except (KeyNotFoundError, KeyInputError) as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    except KeyRegistryError as exc:
        fail(str(exc), ExitCode.FAILED)


def _as_dict(key: TenantKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "tenant_id": key.tenant_id,
        "public_key": key.public_key_b64,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "regions": list(key.regions),
    }
