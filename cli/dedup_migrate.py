"""`dedup-migrate`: online 1→N re-sharding of the dedup store (not yet available)."""

from __future__ import annotations

import typer

from cli.common import ExitCode, fail

app = typer.Typer(help="Online re-sharding of the dedup store.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
def main() -> None:
    """Re-sharding lands with its own feature; until then this command only says so."""
    fail("dedup-migrate is not yet available in this version", ExitCode.FAILED)
