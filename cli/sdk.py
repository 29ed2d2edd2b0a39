"""`geoledger sdk ...`: tooling for the client SDKs (the golden vectors they are tested against)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from golden import render_vectors

# The checkout this package was installed from (editable installs, as in development and CI).
DEFAULT_VECTORS_PATH = Path(__file__).resolve().parents[1] / "sdk" / "golden" / "vectors.json"

sdk_app = typer.Typer(
    help="Client SDK tooling: golden vectors shared by the Python, Go and TypeScript SDKs.",
    no_args_is_help=True,
)


@sdk_app.callback()
def _group() -> None:
    """Client SDK tooling."""
    # A callback keeps `sdk` a command group even while it has a single command.


def vectors_are_current(path: Path) -> bool:
    """True when `path` holds exactly what `geoledger sdk vectors` would write now."""
    try:
        committed = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return committed == render_vectors()


def write_vectors(path: Path) -> int:
    """Write the golden vectors to `path`; returns the number of bytes written."""
    text = render_vectors()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


@sdk_app.command("vectors")
def vectors(
    out: Annotated[
        Path, typer.Option("--out", help="Where the vectors file is (written, or checked).")
    ] = DEFAULT_VECTORS_PATH,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Do not write; exit 1 if the file differs from a fresh build."
        ),
    ] = False,
) -> None:
    """Generate the SDK golden vectors from the server's reference signing code."""
    if check:
        if not vectors_are_current(out):
            typer.echo(
                f"{out} is stale or missing: expected the output of `geoledger sdk vectors`; "
                "regenerate it with `geoledger sdk vectors` and commit it",
                err=True,
            )
            raise typer.Exit(code=1)
        typer.echo(f"{out} is up to date")
        return
    size = write_vectors(out)
    typer.echo(f"wrote {out} ({size} bytes)")
