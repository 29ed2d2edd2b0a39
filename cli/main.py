"""The `geoledger` command."""

from __future__ import annotations

import typer

from cli.demo import demo
from cli.dev import dev_app
from cli.worker import worker_app

app = typer.Typer(
    name="geoledger",
    help="Signed, deduplicated, geo-replicated event ledger.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(dev_app, name="dev")
app.add_typer(worker_app, name="worker")
app.command("demo")(demo)

if __name__ == "__main__":
    app()
