"""One operation on the control database of several regions at once, waiting for every region
before telling which failed: a change is attempted everywhere, so a re-run completes it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import TypeVar

import asyncpg

_T = TypeVar("_T")

DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
"""What a region's database failing looks like; anything else is a bug and is raised."""


async def in_every_region(
    work: Mapping[str, Awaitable[_T]], table: str
) -> tuple[dict[str, _T], dict[str, str]]:
    """Await each region's `work` concurrently, to the end; return the results and, for each
    region that failed, why. A missing `table` is reported as a database not migrated yet;
    other driver errors by their message. Raises any other exception as it comes."""
    regions = list(work)
    outcomes = await asyncio.gather(*work.values(), return_exceptions=True)
    results: dict[str, _T] = {}
    failed: dict[str, str] = {}
    for region, outcome in zip(regions, outcomes, strict=True):
        if isinstance(outcome, asyncpg.UndefinedTableError):
            failed[region] = f"no {table} table: run `geoledger db migrate` first"
        elif isinstance(outcome, DRIVER_ERRORS):
            failed[region] = str(outcome) or type(outcome).__name__
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results[region] = outcome
    return results, failed
