"""Helpers shared by the dedup and key-registry tests (this module holds no tests itself).

Each test module gets databases of its own on the session's embedded PostgreSQL, so tests that
truncate or inject failures never touch another module's state.
"""

from __future__ import annotations

import hashlib
import uuid

import asyncpg

from ledger.config import RegionConfig
from storage.dedup import DedupRecord, DedupStore, Phase, advance_route, load_migrations
from storage.dedup.migrate import CREATE_SCHEMA_MIGRATIONS, RECORD_APPLIED, migrate_database
from storage.dedup.routing import ensure_initial_route
from tests.conftest import RunningStack

TABLES = ("dedup_events", "dedup_copies", "applied_positions")


async def fresh_region(running_stack: RunningStack, prefix: str, shards: int = 2) -> RegionConfig:
    """A copy of the `us` region whose control database and `shards` shard databases are new."""
    tag = f"{prefix}_{uuid.uuid4().hex[:8]}"
    names = [f"{tag}_control", *(f"{tag}_shard{i}" for i in range(shards))]
    await running_stack.stack.postgres.ensure_databases(names)
    dsns = [running_stack.postgres_dsn(name) for name in names]
    base = running_stack.settings.region("us")
    # Routed over every one of its shards, whatever the embedded stack's `us` starts on.
    return base.model_copy(
        update={"control_dsn": dsns[0], "shard_dsns": dsns[1:], "initial_ring": None}
    )


async def migrate_shards_before(region: RegionConfig, version: int) -> None:
    """What `geoledger db migrate` did before shard migration `version` existed: the control
    database fully, every shard up to the migration before `version`."""
    conn = await asyncpg.connect(region.control_dsn)
    try:
        await migrate_database(conn, "control")
        await ensure_initial_route(conn, len(region.shard_dsns))
    finally:
        await conn.close()
    for dsn in region.shard_dsns:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(CREATE_SCHEMA_MIGRATIONS)
            for migration in load_migrations("shard"):
                if migration.version < version:
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute(
                            RECORD_APPLIED, migration.version, migration.name, migration.checksum
                        )
        finally:
            await conn.close()


async def advance_store(
    store: DedupStore, from_epoch: int, phase: Phase, *, ring_size: int = 2, next_ring_size: int
) -> None:
    """Append the next routing epoch (a re-sharding step of `ring_size` -> `next_ring_size`) and
    have `store` use it now."""
    async with store.pools.control.acquire() as conn:
        await advance_route(
            conn,
            from_epoch=from_epoch,
            ring_size=ring_size,
            next_ring_size=next_ring_size,
            phase=phase,
            migration_id=f"us-{ring_size}to{next_ring_size}-0000000a",
        )
    await store.refresh_routing()


async def truncate_shards(region: RegionConfig) -> None:
    """Empty every shard's dedup tables (between cases that need a fresh state)."""
    for dsn in region.shard_dsns:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"TRUNCATE {', '.join(TABLES)}")
        finally:
            await conn.close()


def digest_of(content: str) -> bytes:
    return hashlib.sha256(content.encode()).digest()


def record(
    event_id: str,
    *,
    hlc: int,
    region: str = "us",
    node: str = "n1",
    seq: int = 1,
    content: str = "same",
    tenant_id: str = "acme",
    accepted_at_ms: int = 1_700_000_000_000,
) -> DedupRecord:
    """A record whose digest is SHA-256 of `content` and whose event bytes name its origin, so
    that stored bytes show which record won."""
    event = f'{{"content":"{content}","origin":"{region}/{node}/{seq}"}}'.encode()
    return DedupRecord(
        tenant_id=tenant_id,
        event_id=event_id,
        hlc=hlc,
        region=region,
        node=node,
        seq=seq,
        digest=digest_of(content),
        event=event,
        accepted_at_ms=accepted_at_ms,
    )
