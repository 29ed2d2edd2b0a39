"""The control database that holds every budget and the spend ledger: `[dp] budget_region`'s,
or the first configured region's when that is empty (ledger/dp_config.py says why one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from ledger.config import Settings
from storage.dedup.pool import describe_dsn
from storage.dp.errors import DpUnavailableError

CONNECT_TIMEOUT_S = 10.0


def budget_region(settings: Settings) -> str:
    """The name of the region whose control database holds the budgets (ConfigError when
    `[dp] budget_region` names no configured region)."""
    name = settings.dp.budget_region or next(iter(settings.regions))
    settings.region(name)
    return name


def budget_db_name(settings: Settings) -> str:
    """`host:port/database` of the budget database, for messages."""
    return describe_dsn(settings.region(budget_region(settings)).control_dsn)


@asynccontextmanager
async def budget_db(settings: Settings) -> AsyncIterator[Any]:
    """One asyncpg connection to the budget database, closed on exit."""
    dsn = settings.region(budget_region(settings)).control_dsn
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise DpUnavailableError(f"connect to {describe_dsn(dsn)}: {exc}") from exc
    try:
        yield conn
    finally:
        await conn.close()
