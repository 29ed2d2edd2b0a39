"""Migrations, the routing table and `geoledger db migrate` against real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from cli.db import db_app
from ledger.config import RegionConfig
from ledger.ring import shard_of
from storage.dedup import (
    DedupStore,
    DedupUnavailableError,
    MigrationError,
    Outcome,
    Phase,
    Route,
    RoutingError,
    load_migrations,
    migrate_region,
)
from storage.embedded.process import free_port
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region, record
from tests.support.isolated import DATABASES

pytestmark = pytest.mark.timeout(120)

CONTROL_FILES = [m.file_name for m in load_migrations("control")]
SHARD_FILES = [m.file_name for m in load_migrations("shard")]


async def fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_first_run_applies_everything_and_creates_epoch_1(
    running_stack: RunningStack,
) -> None:
    region = await fresh_region(running_stack, "dd_mig", shards=3)

    first = await migrate_region(region)
    second = await migrate_region(region)

    assert [(db.database, db.applied) for db in first.databases] == [
        ("control", CONTROL_FILES),
        ("shard 0", SHARD_FILES),
        ("shard 1", SHARD_FILES),
        ("shard 2", SHARD_FILES),
    ]
    assert first.created_route == Route(epoch=1, ring_size=3, phase=Phase.STABLE)
    assert first.changed and not second.changed
    assert [db.applied for db in second.databases] == [[], [], [], []]
    routes = await fetch(region.control_dsn, "SELECT epoch, ring_size, phase FROM dedup_routing")
    assert [tuple(r) for r in routes] == [(1, 3, "stable")]
    versions = await fetch(region.shard_dsns[2], "SELECT version FROM schema_migrations")
    assert [r["version"] for r in versions] == [m.version for m in load_migrations("shard")]
    # Credentials never appear in what is reported.
    assert all("postgres@" not in db.location for db in first.databases)


async def test_concurrent_migrations_apply_each_file_once(running_stack: RunningStack) -> None:
    region = await fresh_region(running_stack, "dd_migc")

    reports = await asyncio.gather(*(migrate_region(region) for _ in range(4)))

    for index, files in enumerate([CONTROL_FILES, SHARD_FILES, SHARD_FILES]):
        applied = [f for report in reports for f in report.databases[index].applied]
        assert sorted(applied) == files
    assert sum(report.created_route is not None for report in reports) == 1
    assert len(await fetch(region.control_dsn, "SELECT * FROM dedup_routing")) == 1


async def test_an_edited_migration_is_refused(running_stack: RunningStack) -> None:
    region = await fresh_region(running_stack, "dd_migx")
    await migrate_region(region)
    conn = await asyncpg.connect(region.shard_dsns[1])
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited'")
    finally:
        await conn.close()

    with pytest.raises(MigrationError, match=r"shard 1 .*was changed after it was applied"):
        await migrate_region(region)


async def test_an_unreachable_database_is_named(running_stack: RunningStack) -> None:
    region = await fresh_region(running_stack, "dd_migu")
    # pragma: allowlist nextline secret (a placeholder password of a DSN to no server)
    dead = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/nowhere"
    broken = region.model_copy(update={"shard_dsns": [region.shard_dsns[0], dead]})

    with pytest.raises(DedupUnavailableError, match="/nowhere") as raised:
        await migrate_region(broken)
    assert "secret" not in str(raised.value)


async def test_opening_an_unmigrated_region_says_what_to_do(running_stack: RunningStack) -> None:
    region = await fresh_region(running_stack, "dd_migo")
    with pytest.raises(RoutingError, match="run `geoledger db migrate`"):
        await DedupStore.open(region)


async def test_a_route_needing_more_shards_than_configured_is_refused(
    running_stack: RunningStack,
) -> None:
    region = await fresh_region(running_stack, "dd_migr")
    await migrate_region(region)
    fewer = region.model_copy(update={"shard_dsns": region.shard_dsns[:1]})
    with pytest.raises(RoutingError, match="uses 2 shards, but the configuration lists only 1"):
        await DedupStore.open(fewer)


async def insert_route(region: RegionConfig, sql: str) -> None:
    conn = await asyncpg.connect(region.control_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_refresh_picks_up_a_dual_write_epoch(running_stack: RunningStack) -> None:
    """The model is ready for re-sharding: in dual_write, a write also reaches the key's shard on
    the next ring, while reads and outcomes still come from the current ring."""
    region = await fresh_region(running_stack, "dd_migd", shards=3)
    two = region.model_copy(update={"shard_dsns": region.shard_dsns})
    await migrate_region(two.model_copy(update={"shard_dsns": region.shard_dsns[:2]}))
    await migrate_region(two)  # migrates the third shard; the route stays at 2
    async with await DedupStore.open(two) as store:
        assert store.route.ring_size == 2 and not store.route.dual_writing
        await insert_route(
            region,
            "INSERT INTO dedup_routing (epoch, ring_size, next_ring_size, phase, migration_id) "
            "VALUES (2, 2, 3, 'dual_write', 'grow-3')",
        )
        route = await store.refresh_routing()
        assert (route.epoch, route.phase, route.dual_writing) == (2, Phase.DUAL_WRITE, True)

        moving = next(
            f"m{i}" for i in range(1000) if shard_of("acme", f"m{i}", 3) == 2
        )  # jump hash moves this key to the new shard
        [result] = await store.apply([record(moving, hlc=1)], stream="us/n1", through_seq=1)

        assert result.outcome is Outcome.ACCEPTED
        on_new_shard = await store.pools.shards[2].fetchval(
            "SELECT count(*) FROM dedup_events WHERE event_id = $1", moving
        )
        assert on_new_shard == 1
        assert await store.get_event("acme", moving) is not None  # read from the current ring
        assert await store.pools.shards[2].fetchval("SELECT seq FROM applied_positions") == 1


async def test_a_stable_route_with_a_target_ring_is_rejected_by_the_schema(
    running_stack: RunningStack,
) -> None:
    region = await fresh_region(running_stack, "dd_migk")
    await migrate_region(region)
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_route(
            region,
            "INSERT INTO dedup_routing (epoch, ring_size, next_ring_size, phase) "
            "VALUES (2, 2, 3, 'stable')",
        )


@pytest.fixture(scope="module")
async def cli_config(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's configuration with every database renamed to fresh ones."""
    tag = f"ddcli_{uuid.uuid4().hex[:6]}"
    text = running_stack.config_path.read_text().replace("/geoledger_", f"/{tag}_")
    path = tmp_path_factory.mktemp("dbcli") / "geoledger.toml"
    path.write_text(text)
    await running_stack.stack.postgres.ensure_databases(
        [f"{tag}_{r}_{db}" for r in ("us", "eu") for db in DATABASES]
    )
    return path


def test_cli_migrates_one_region_then_all_and_reports_json(cli_config: Path) -> None:
    runner = CliRunner()

    us = runner.invoke(db_app, ["migrate", "--region", "us", "--config", str(cli_config)])
    assert us.exit_code == 0, us.output
    assert "us control" in us.output and "0001_control_routing.sql" in us.output
    # us lists four shards and starts on two of them (initial_ring): the demo grows it.
    assert "us routing: created epoch 1, 2 shard(s), stable" in us.output
    assert "eu " not in us.output

    both = runner.invoke(db_app, ["migrate", "--config", str(cli_config), "--json"])
    assert both.exit_code == 0, both.output
    document = json.loads(both.output)
    assert [db["applied"] for db in document["regions"]["us"]["databases"]] == [[]] * 5
    assert document["regions"]["us"]["created_route"] is None
    eu = document["regions"]["eu"]
    assert [db["applied"] for db in eu["databases"]] == [CONTROL_FILES, SHARD_FILES, SHARD_FILES]
    assert eu["created_route"]["ring_size"] == 2


def test_cli_unknown_region_is_bad_input(cli_config: Path) -> None:
    result = CliRunner().invoke(
        db_app, ["migrate", "--region", "mars", "--config", str(cli_config)]
    )
    assert result.exit_code == 2
    assert "unknown region 'mars'" in result.output


def test_cli_unreachable_database_is_a_runtime_failure(cli_config: Path, tmp_path: Path) -> None:
    text = cli_config.read_text()
    port = text.split("postgresql://postgres@127.0.0.1:")[1].split("/")[0]
    broken = tmp_path / "geoledger.toml"
    broken.write_text(text.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{free_port()}/"))
    result = CliRunner().invoke(db_app, ["migrate", "--region", "eu", "--config", str(broken)])
    assert result.exit_code == 1
    assert "region eu" in result.output and "connect to" in result.output
