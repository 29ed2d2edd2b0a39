"""`geoledger audit prove TENANT EVENT_ID`: the receipt that proves the key's winning record is
in its source region's Merkle log (docs/audit.md "Receipt"); `geoledger audit verify` checks it
offline."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from ledger.receipt import render_receipt
from workers.audit_prove import NotProvable, prove_event


def prove(
    tenant_id: Annotated[str, typer.Argument(help="Tenant id.")],
    event_id: Annotated[str, typer.Argument(help="Event id.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the receipt to this file.")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write the event's receipt: leaf, index, inclusion proof, the cosigned checkpoint and the
    signed event. Exits 5 while the event is not yet in a checkpoint (retry later), 1 when no
    region holds it."""
    settings = settings_from(config)
    try:
        proven = asyncio.run(prove_event(settings, tenant_id, event_id))
    except NotProvable as exc:
        fail(str(exc), ExitCode.PENDING if exc.pending else ExitCode.FAILED)
    text = render_receipt(proven.receipt)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    if json_output:
        print_json(proven.receipt.model_dump())
    elif out is None:
        sys.stdout.write(text)  # as written to a file: long base64 lines must not be wrapped
    else:
        witnesses = ", ".join(proven.cosigned_by) or "no witness yet"
        console.print(
            f"  receipt of {tenant_id}/{event_id}: leaf {proven.receipt.leaf_index} of "
            f"{proven.receipt.region}'s log, cosigned by {witnesses} -> {out}"
        )
