"""`geoledger demo`: the main job on the embedded stack, told as a story."""

from __future__ import annotations

import asyncio

from rich.table import Table

from cli.common import ConfigOption, ExitCode, console, fail, settings_from
from ledger.config import Settings
from storage.embedded.errors import StackError
from storage.embedded.stack import EmbeddedStack
from workers.client import connect
from workers.smoke import run_smoke, smoke_workflow_id


def demo(config: ConfigOption = None) -> None:
    """Bring the stack up, run the smoke workflow in every region, print where to watch it."""
    settings = settings_from(config)
    console.rule("1. embedded stack")
    try:
        parts = EmbeddedStack(settings).up()
    except StackError as exc:
        fail(str(exc), ExitCode.UNAVAILABLE)
    for name, part in parts.items():
        console.print(f"  {name:<12} {part.endpoint}")
    console.rule("2. smoke workflow: write and read an object in each region's store")
    workflow_id = smoke_workflow_id()
    asyncio.run(_smoke(settings, workflow_id))
    console.rule("done")
    ui = settings.temporal.ui_url
    console.print(f"Temporal web UI: {ui}/namespaces/{settings.temporal.namespace}/workflows")
    console.print(
        f"  this run:      {ui}/namespaces/{settings.temporal.namespace}/workflows/{workflow_id}"
    )
    console.print("The stack keeps running; `make down` stops it.")


async def _smoke(settings: Settings, workflow_id: str) -> None:
    client = await connect(settings)
    result = await run_smoke(client, settings, workflow_id)
    table = Table(title=f"{workflow_id}: completed")
    for column in ("region", "store", "key", "bytes", "sha256"):
        table.add_column(column)
    for trip in result.round_trips:
        table.add_row(trip.region, trip.store, trip.key, str(trip.bytes), trip.sha256[:16] + "…")
    console.print(table)
