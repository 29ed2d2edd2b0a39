"""The `--region` option the `geoledger audit` commands share, and the regions it selects."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import ExitCode, fail
from ledger.config import Settings
from workers.audit_control import regions_of

RegionOption = Annotated[
    str | None, typer.Option("--region", "-r", help="One region (default: every region).")
]


def chosen_regions(settings: Settings, region: str | None) -> list[str]:
    """The regions a command covers; an unknown one exits 2 naming the configured ones."""
    try:
        return regions_of(settings, region)
    except KeyError as exc:
        fail(str(exc.args[0]), ExitCode.BAD_INPUT)
