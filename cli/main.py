"""The `geoledger` command."""

from __future__ import annotations

import typer

from cli.crr import crr_app
from cli.db import db_app
from cli.demo import demo
from cli.dev import dev_app
from cli.drill import drill_app
from cli.events import events_app
from cli.geo import geo_app
from cli.ingest import ingest_app
from cli.keys import keys_app
from cli.sdk import sdk_app
from cli.worker import worker_app

app = typer.Typer(
    name="geoledger",
    help="Signed, deduplicated, geo-replicated event ledger.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(dev_app, name="dev")
app.add_typer(worker_app, name="worker")
app.add_typer(ingest_app, name="ingest")
app.add_typer(events_app, name="events")
app.add_typer(crr_app, name="crr")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(geo_app, name="geo")
app.add_typer(drill_app, name="drill")
app.add_typer(sdk_app, name="sdk")
app.command("demo")(demo)

if __name__ == "__main__":
    app()
