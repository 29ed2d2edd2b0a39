"""Schema migrations: plain SQL files in `storage/dedup/migrations/`, applied in order.

A file is named `NNNN_<target>_<name>.sql`: `target` is `control` (a region's control database)
or `shard` (every dedup shard). Versions form one sequence across both targets, so a version names
exactly one file; each database records the versions it has in its own `schema_migrations`, with
the file's SHA-256 so that editing an applied file is caught instead of silently skipped.

Each migration runs in its own transaction under `pg_advisory_xact_lock`, which also guards the
check "already applied?": two nodes migrating the same database at once apply each file once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import asyncpg

from ledger.config import RegionConfig
from storage.dedup.errors import DedupUnavailableError, MigrationError
from storage.dedup.pool import describe_dsn
from storage.dedup.routing import Route, ensure_initial_route

Target = Literal["control", "shard"]

MIGRATION_LOCK_KEY = 0x67656F6C65646772
"""The pg_advisory_xact_lock key every migration takes ("geoledgr" in ASCII)."""

_FILE_NAME = re.compile(
    r"(?P<version>[0-9]{4})_(?P<target>control|shard)_(?P<name>[a-z0-9_]+)\.sql"
)

LOCK = "SELECT pg_advisory_xact_lock($1)"
CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)

RECORD_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its version, the databases it targets, its name and its SQL."""

    version: int
    target: Target
    name: str
    sql: str

    @property
    def file_name(self) -> str:
        """The name of the file it was loaded from, `NNNN_<target>_<name>.sql`."""
        return f"{self.version:04d}_{self.target}_{self.name}.sql"

    @property
    def checksum(self) -> str:
        """SHA-256 (hex) of the SQL, recorded when applied so that a later edit is noticed."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(target: Target | None = None) -> list[Migration]:
    """Every migration file (or only those of `target`), by version.

    Raises MigrationError for a `.sql` file whose name does not follow `NNNN_<target>_<name>.sql`
    or for two files with one version.
    """
    found: dict[int, Migration] = {}
    for entry in resources.files("storage.dedup").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        version, file_target, name = parse_file_name(entry.name)
        if version in found:
            raise MigrationError(
                f"expected one file per version, got {found[version].file_name!r} and "
                f"{entry.name!r} for version {version}"
            )
        found[version] = Migration(version, file_target, name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found) if target is None or found[v].target == target]


def parse_file_name(file_name: str) -> tuple[int, Target, str]:
    """(version, target, name) of `NNNN_<target>_<name>.sql`; MigrationError otherwise."""
    match = _FILE_NAME.fullmatch(file_name)
    if match is None:
        raise MigrationError(
            "expected a migration file name like 0001_control_name.sql or 0002_shard_name.sql, "
            f"got {file_name!r}"
        )
    target: Target = "control" if match["target"] == "control" else "shard"
    return int(match["version"]), target, match["name"]


async def migrate_database(conn: Any, target: Target) -> list[Migration]:
    """Apply every pending migration of `target` on `conn`; return those applied, in order.

    Raises MigrationError when an applied file's checksum differs from the file now shipped, or
    when a migration fails (its transaction is rolled back; earlier ones stay applied).
    """
    # schema_migrations itself: created under the lock, since two concurrent CREATE TABLE IF NOT
    # EXISTS can both miss the table and one then fails on the catalog's unique index.
    async with conn.transaction():
        await conn.execute(LOCK, MIGRATION_LOCK_KEY)
        await conn.execute(CREATE_SCHEMA_MIGRATIONS)
    applied: list[Migration] = []
    for migration in load_migrations(target):
        async with conn.transaction():
            await conn.execute(LOCK, MIGRATION_LOCK_KEY)
            # Read under the lock: another node may have applied it while we waited.
            done = {int(r["version"]): r for r in await conn.fetch(SELECT_APPLIED)}
            if migration.version in done:
                _check_unchanged(migration, done[migration.version]["checksum"])
                continue
            try:
                await conn.execute(migration.sql)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{migration.file_name}: {exc}") from exc
            await conn.execute(
                RECORD_APPLIED, migration.version, migration.name, migration.checksum
            )
        applied.append(migration)
    return applied


def _check_unchanged(migration: Migration, recorded_checksum: str) -> None:
    if recorded_checksum != migration.checksum:
        raise MigrationError(
            f"{migration.file_name} was changed after it was applied: expected SHA-256 "
            f"{recorded_checksum}, got {migration.checksum}; add a new migration instead"
        )


@dataclass(frozen=True)
class DatabaseMigration:
    """What migrating one database did."""

    database: str  # "control" or "shard N"
    location: str  # host:port/database, never credentials
    applied: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RegionMigration:
    """What migrating one region did: each database, and the route created, if any."""

    databases: list[DatabaseMigration]
    created_route: Route | None

    @property
    def changed(self) -> bool:
        """True when a database had migrations applied or the route was created."""
        return self.created_route is not None or any(db.applied for db in self.databases)


async def migrate_region(region: RegionConfig) -> RegionMigration:
    """Migrate the region's control database and every shard (concurrently); idempotent.

    On the first run it also creates routing epoch 1: ring size = `initial_ring` (default: every
    shard_dsn), phase stable.
    Raises DedupUnavailableError when a database cannot be reached, MigrationError as
    `migrate_database` does.
    """
    control_task = _migrate_control(region)
    shard_tasks = [
        _migrate_one(f"shard {index}", dsn, "shard") for index, dsn in enumerate(region.shard_dsns)
    ]
    # Every database runs to the end before an error is raised, so none is left mid-migration.
    control, *shards = await asyncio.gather(control_task, *shard_tasks, return_exceptions=True)
    for outcome in (control, *shards):
        if isinstance(outcome, BaseException):
            raise outcome
    assert isinstance(control, tuple)
    return RegionMigration(
        [control[0], *(s for s in shards if isinstance(s, DatabaseMigration))], control[1]
    )


async def _migrate_control(region: RegionConfig) -> tuple[DatabaseMigration, Route | None]:
    conn = await _connect(region.control_dsn)
    try:
        applied = await migrate_database(conn, "control")
        async with conn.transaction():
            await conn.execute(LOCK, MIGRATION_LOCK_KEY)
            route = await ensure_initial_route(conn, region.initial_ring or len(region.shard_dsns))
    except (*_DRIVER_ERRORS, MigrationError) as exc:
        raise MigrationError(f"control ({describe_dsn(region.control_dsn)}): {exc}") from exc
    finally:
        await conn.close()
    result = DatabaseMigration(
        "control", describe_dsn(region.control_dsn), [m.file_name for m in applied]
    )
    return result, route


async def _migrate_one(label: str, dsn: str, target: Target) -> DatabaseMigration:
    conn = await _connect(dsn)
    try:
        applied = await migrate_database(conn, target)
    except (*_DRIVER_ERRORS, MigrationError) as exc:
        raise MigrationError(f"{label} ({describe_dsn(dsn)}): {exc}") from exc
    finally:
        await conn.close()
    return DatabaseMigration(label, describe_dsn(dsn), [m.file_name for m in applied])


async def _connect(dsn: str) -> Any:
    try:
        return await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DedupUnavailableError(f"connect to {describe_dsn(dsn)}: {exc}") from exc
