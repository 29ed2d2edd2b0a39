"""What `geoledger export dp` and `geoledger dp budget` share: the operator identity recorded
with every spend and budget change, and how DP errors map to exit codes."""

from __future__ import annotations

import getpass
from typing import Annotated, NoReturn

import typer

from cli.common import ExitCode, fail
from ledger.errors import ConfigError, DpInputError
from storage.dp.errors import DpUnavailableError, OverBudgetError, UnknownTenantError

WhoOption = Annotated[
    str | None,
    typer.Option(
        "--who", help="Operator recorded in the spend ledger (default: the OS user running this)."
    ),
]


def operator(who: str | None) -> str:
    """`--who`, or the OS user name when it is not given."""
    return who or getpass.getuser()


def fail_dp(exc: Exception) -> NoReturn:
    """Exit with the code of a DP error: bad input 2, unavailable 3, over budget 6."""
    if isinstance(exc, OverBudgetError):
        fail(str(exc), ExitCode.OVER_BUDGET)
    if isinstance(exc, DpUnavailableError):
        fail(str(exc), ExitCode.UNAVAILABLE)
    if isinstance(exc, DpInputError | UnknownTenantError | ConfigError):
        fail(str(exc), ExitCode.BAD_INPUT)
    fail(str(exc))
