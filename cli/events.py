"""`geoledger events get | sign`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    console,
    fail,
    print_json,
    settings_from,
)
from ledger.config import Settings
from ledger.errors import EventSchemaError, KeyFormatError
from ledger.events_file import sign_lines
from ledger.keys import private_key_from_pem
from storage.dedup import StoredEvent
from storage.dedup.store import read_event
from storage.tiering.read_errors import BodyArchived, TieredReadError
from storage.tiering.reader import TierReadOptions

events_app = typer.Typer(help="Read and sign events.")


@events_app.command("get")
def get(
    tenant_id: Annotated[str, typer.Argument(help="Tenant id.")],
    event_id: Annotated[str, typer.Argument(help="Event id.")],
    region: Annotated[str, typer.Option("--region", "-r", help="Region to read from.")],
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """The winning envelope of a key in one region, with when and where it was accepted, whatever
    tier its body is in (a read may move it back to hot: the tenant's promote_on_read). A body
    whose cold pack is archived starts the pack's RestoreWorkflow and exits 4, "restoring, retry
    after N s"."""
    settings = settings_from(config)
    tiering = TierReadOptions.from_settings(settings)
    try:
        stored = asyncio.run(read_event(settings.region(region), tenant_id, event_id, tiering))
    except BodyArchived as exc:
        fail(*asyncio.run(restoring(settings, region, exc)))
    except TieredReadError as exc:
        code = ExitCode.UNAVAILABLE if exc.reason == "unavailable" else ExitCode.FAILED
        fail(str(exc), code)
    if stored is None:
        fail(f"no event {event_id!r} of tenant {tenant_id!r} in region {region}", ExitCode.FAILED)
    found = _as_dict(stored)
    if json_output:
        print_json(found)
        return
    table = Table(title=f"{tenant_id}/{event_id} in {region}", show_header=False)
    for name in ("stream", "seq", "accepted_at_ms", "hlc", "digest_sha256"):
        table.add_row(name, str(found[name]))
    table.add_row("event", json.dumps(found["event"], indent=2, ensure_ascii=False))
    console.print(table)


async def restoring(
    settings: Settings, region: str, archived: BodyArchived
) -> tuple[str, ExitCode]:
    """The message and exit code of a read of an archived body, once its restore is started
    (or found running) through Temporal, as other commands connect to it."""
    from workers.client import connect
    from workers.tier_restore import start_restore

    try:
        client = await connect(settings)
        await start_restore(client, settings, archived.tenant_id, region, archived.pack_id)
    except Exception as exc:
        return f"{archived}; the restore could not be started: {exc}", ExitCode.UNAVAILABLE
    return f"{archived}; restore of pack {archived.pack_id} started", ExitCode.RESTORING


def _as_dict(stored: StoredEvent) -> dict[str, Any]:
    return {
        "event": json.loads(stored.event),
        "accepted_at_ms": stored.accepted_at_ms,
        "stream": str(stored.origin.stream),
        "seq": stored.origin.seq,
        "hlc": stored.hlc,
        "digest_sha256": stored.digest.hex(),
    }


@events_app.command("sign")
def sign(
    source: Annotated[
        Path, typer.Argument(help="Newline-delimited unsigned envelopes ('-': stdin).")
    ],
    key_file: Annotated[Path, typer.Option("--key", "-k", help="Private key (PEM) of the tenant.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to write signed events (default stdout)."),
    ] = None,
) -> None:
    """Sign each envelope (a missing key_id is filled in from the key); stops at a bad line."""
    try:
        private_key = private_key_from_pem(key_file.read_bytes())
    except (OSError, KeyFormatError) as exc:
        fail(f"{key_file}: {exc}", ExitCode.BAD_INPUT)
    lines = sys.stdin if str(source) == "-" else source.open(encoding="utf-8")
    try:
        signed = list(sign_lines(lines, private_key))
    except EventSchemaError as exc:
        fail(f"{source}: {exc}", ExitCode.BAD_INPUT)
    text = "".join(line + "\n" for line in signed)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"signed {len(signed)} events into {out}", highlight=False)
