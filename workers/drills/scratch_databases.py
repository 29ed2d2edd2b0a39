"""Throw-away copies of a region's databases (same servers, new names) for rebuild drills, and a
region's own databases made empty again for the lost-disk drill."""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

import asyncpg

from ledger.config import RegionConfig
from storage.dedup.migrate import migrate_region


def _renamed(dsn: str, database: str) -> str:
    return urlunparse(urlparse(dsn)._replace(path=f"/{database}"))


def _database(dsn: str) -> str:
    return urlparse(dsn).path.lstrip("/")


async def _on_server(dsn: str, *statements: str) -> None:
    """Run `statements` on the server of `dsn`, connected to its `postgres` database (a database
    cannot be created or dropped from inside itself)."""
    conn = await asyncpg.connect(_renamed(dsn, "postgres"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _drop(dsn: str) -> str:
    return f'DROP DATABASE IF EXISTS "{_database(dsn)}" WITH (FORCE)'


def _create(dsn: str) -> str:
    return f'CREATE DATABASE "{_database(dsn)}"'


async def create_scratch_region(region: RegionConfig, tag: str) -> RegionConfig:
    """A copy of `region` whose control and shard databases are new, empty and migrated."""
    dsns = [region.control_dsn, *region.shard_dsns]
    scratch = [_renamed(dsn, f"{_database(dsn)}_{tag}") for dsn in dsns]
    for dsn in scratch:
        await _on_server(dsn, _create(dsn))
    copy = region.model_copy(update={"control_dsn": scratch[0], "shard_dsns": scratch[1:]})
    await migrate_region(copy)
    return copy


async def drop_scratch_region(region: RegionConfig) -> None:
    for dsn in [region.control_dsn, *region.shard_dsns]:
        await _on_server(dsn, _drop(dsn))


async def recreate_region_databases(region: RegionConfig) -> None:
    """Drop `region`'s own control and shard databases and create them again, empty and not
    migrated: what a region finds on new disks."""
    for dsn in [region.control_dsn, *region.shard_dsns]:
        await _on_server(dsn, _drop(dsn), _create(dsn))
