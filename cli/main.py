"""The `geoledger` command."""

from __future__ import annotations

from typing import Any

import typer

from cli.audit import audit_app
from cli.canary import canary_app
from cli.crr import crr_app
from cli.db import db_app
from cli.demo import demo
from cli.dev import dev_app
from cli.dp import dp_app
from cli.drill import drill_app
from cli.events import events_app
from cli.export_dp import export_app
from cli.geo import geo_app
from cli.ingest import ingest_app
from cli.ingest_retire import register as register_retire
from cli.keys import keys_app
from cli.keys_restore import register as register_keys_restore
from cli.ops import ops_app
from cli.sdk import sdk_app
from cli.tier import tier_app
from cli.witness import witness_app
from cli.worker import worker_app
from workers.client import sdk_runtime_started
from workers.process_exit import exit_now


class _GeoledgerApp(typer.Typer):
    """The command line entry point. Once a command has used Temporal, the process exits without
    interpreter finalization (workers/process_exit.py says why)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exc:
            if sdk_runtime_started():
                exit_now(exc.code)
            raise


app = _GeoledgerApp(
    name="geoledger",
    help="Signed, deduplicated, geo-replicated event ledger.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # Help texts are docstrings wrapped at 100 columns: markdown joins their lines into
    # paragraphs, so the terminal wraps them at its own width.
    rich_markup_mode="markdown",
)
app.add_typer(dev_app, name="dev")
app.add_typer(worker_app, name="worker")
register_retire(ingest_app)
register_keys_restore(keys_app)
app.add_typer(ingest_app, name="ingest")
app.add_typer(events_app, name="events")
app.add_typer(crr_app, name="crr")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(geo_app, name="geo")
app.add_typer(drill_app, name="drill")
app.add_typer(sdk_app, name="sdk")
app.add_typer(tier_app, name="tier")
app.add_typer(audit_app, name="audit")
app.add_typer(witness_app, name="witness")
app.add_typer(ops_app, name="ops")
app.add_typer(export_app, name="export")
app.add_typer(dp_app, name="dp")
app.add_typer(canary_app, name="canary")
app.command("demo")(demo)

if __name__ == "__main__":
    app()
