"""The preconditions of a re-sharding plan that look at one shard database: migrated to the schema
this version ships, and room on its disk for what moves in.

Each returns a PlanCheck whose reason says what was expected and what was found.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any
from urllib.parse import urlparse

import asyncpg

from ledger.byte_size import human_bytes
from ledger.migration_plan import CheckStatus, PlanCheck
from storage.dedup.migrate import SELECT_APPLIED, load_migrations

FREE_SPACE_FACTOR = 2
"""Free disk wanted per body byte moving in: the rows around the bodies, the primary keys, the
copies and the WAL written while copying take room of about the bodies' size again."""

_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


async def schema_check(conn: Any, shard: int) -> PlanCheck:
    """Every shard migration this version ships is applied, and nothing newer."""
    shipped = [m.version for m in load_migrations("shard")]
    try:
        applied = [int(row["version"]) for row in await conn.fetch(SELECT_APPLIED)]
    except asyncpg.UndefinedTableError:
        applied = []
    applied_shard = [v for v in applied if v in set(shipped)]
    if applied_shard == shipped and len(applied) == len(applied_shard):
        return PlanCheck(
            name="schema",
            shard=shard,
            status=CheckStatus.OK,
            reason=f"every shard migration applied, through {shipped[-1]:04d}",
        )
    missing = sorted(set(shipped) - set(applied))
    unknown = sorted(set(applied) - set(shipped))
    found = f"missing versions {missing}" if missing else f"unknown versions {unknown}"
    return PlanCheck(
        name="schema",
        shard=shard,
        status=CheckStatus.FAILED,
        reason=f"expected shard migrations through {shipped[-1]:04d}, found {found}: "
        "run `geoledger db migrate`",
    )


async def free_space_check(conn: Any, dsn: str, shard: int, incoming_bytes: int) -> PlanCheck:
    """Room for FREE_SPACE_FACTOR x the body bytes moving in. Postgres does not report its free
    disk; on a server of this machine it is read off the disk of its data directory, anywhere
    else the check says it cannot know."""
    size = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    wanted = FREE_SPACE_FACTOR * incoming_bytes
    free = await _local_free_disk(conn, dsn)
    found = f"database {human_bytes(size)}, {human_bytes(incoming_bytes)} of bodies moving in"
    if free is None:
        return PlanCheck(
            name="free_space",
            shard=shard,
            status=CheckStatus.UNKNOWN,
            reason=f"{found}; its free disk cannot be known from here (not a server of this "
            "machine, or its data directory is not readable): make sure "
            f"{human_bytes(wanted)} is free",
        )
    status = CheckStatus.OK if free >= wanted else CheckStatus.FAILED
    return PlanCheck(
        name="free_space",
        shard=shard,
        status=status,
        reason=f"{found}; expected at least {human_bytes(wanted)} free, found {human_bytes(free)}",
    )


async def _local_free_disk(conn: Any, dsn: str) -> int | None:
    host = urlparse(dsn).hostname or ""
    if host not in _LOCAL_HOSTS and not host.startswith("/"):
        return None
    try:
        data_directory = await conn.fetchval("SELECT current_setting('data_directory')")
    except asyncpg.PostgresError:  # reading it needs pg_read_all_settings
        return None
    return await asyncio.to_thread(_free_disk, str(data_directory or ""))


def _free_disk(data_directory: str) -> int | None:
    if not data_directory or not os.path.isdir(data_directory):
        return None  # a loopback port forwarded elsewhere, e.g. into a container
    return shutil.disk_usage(data_directory).free
