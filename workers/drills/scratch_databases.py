"""Throw-away copies of a region's databases (same servers, new names) for rebuild drills."""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

import asyncpg

from ledger.config import RegionConfig
from storage.dedup.migrate import migrate_region


def _renamed(dsn: str, database: str) -> str:
    return urlunparse(urlparse(dsn)._replace(path=f"/{database}"))


def _database(dsn: str) -> str:
    return urlparse(dsn).path.lstrip("/")


async def create_scratch_region(region: RegionConfig, tag: str) -> RegionConfig:
    """A copy of `region` whose control and shard databases are new, empty and migrated."""
    dsns = [region.control_dsn, *region.shard_dsns]
    scratch = [_renamed(dsn, f"{_database(dsn)}_{tag}") for dsn in dsns]
    for dsn in scratch:
        conn = await asyncpg.connect(_renamed(dsn, "postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{_database(dsn)}"')
        finally:
            await conn.close()
    copy = region.model_copy(update={"control_dsn": scratch[0], "shard_dsns": scratch[1:]})
    await migrate_region(copy)
    return copy


async def drop_scratch_region(region: RegionConfig) -> None:
    for dsn in [region.control_dsn, *region.shard_dsns]:
        conn = await asyncpg.connect(_renamed(dsn, "postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{_database(dsn)}" WITH (FORCE)')
        finally:
            await conn.close()
