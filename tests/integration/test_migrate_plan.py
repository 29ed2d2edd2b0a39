"""`dedup-migrate plan` and `plans` against real PostgreSQL: the measured moves are what jump hash
routes key by key, and a plan is stored only when every precondition holds."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from cli.dedup_migrate import app
from ledger.config import RegionConfig
from ledger.migration_plan import CheckStatus, MigrationPlan, PlanReport, moving_shards
from ledger.ring import shard_of
from storage.dedup import DedupStore, migrate_region
from storage.dedup.plan import plan_migration, stored_plans
from storage.dedup.plan_store import fetch_plan
from storage.embedded.process import free_port
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region, record
from tests.support.isolated import settings_env

pytestmark = pytest.mark.timeout(180)

RATE = 1000.0
KEYS = 3000
COLD_LENGTH = 777
WARM_BLOB = b"\x00" + b"w" * 40

runner = CliRunner()


@dataclass
class Key:
    """A key written to the region, the bytes its body takes and its copies."""

    tenant_id: str
    event_id: str
    body_bytes: int
    copies: int


async def region_with_ring(
    running_stack: RunningStack, prefix: str, ring: int, shards: int
) -> RegionConfig:
    """A fresh region whose route has `ring` shards, with `shards` migrated shard databases."""
    region = await fresh_region(running_stack, prefix, shards)
    await migrate_region(region.model_copy(update={"shard_dsns": region.shard_dsns[:ring]}))
    await migrate_region(region)  # the route exists now: it keeps `ring` shards
    return region


async def write_keys(region: RegionConfig, count: int) -> list[Key]:
    """`count` keys of two tenants; every 5th has a copy, every 7th a warm body, every 11th a
    cold one (set in place: which tier a body is in is all measuring looks at)."""
    keys: list[Key] = []
    async with await DedupStore.open(region) as store:
        ring = store.route.ring_size
        records = []
        for i in range(count):
            tenant = "acme" if i % 2 else "globex"
            first = record(f"e{i}", hlc=10, tenant_id=tenant, content="x" * (i % 50))
            records.append(first)
            if i % 5 == 0:
                records.append(record(f"e{i}", hlc=20, node="n2", tenant_id=tenant))
            keys.append(Key(tenant, f"e{i}", len(first.event), int(i % 5 == 0)))
        for start in range(0, len(records), 1000):
            await store.apply(records[start : start + 1000])
    for i, key in enumerate(keys):
        if i % 7 == 0 or i % 11 == 0:
            dsn = region.shard_dsns[shard_of(key.tenant_id, key.event_id, ring)]
            key.body_bytes = await demote(dsn, key, warm=i % 7 == 0)
    return keys


async def demote(dsn: str, key: Key, *, warm: bool) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        if warm:
            await conn.execute(
                "UPDATE dedup_events SET body_tier = 1, event = NULL, warm_body = $3 "
                "WHERE tenant_id = $1 AND event_id = $2",
                key.tenant_id,
                key.event_id,
                WARM_BLOB,
            )
            return len(WARM_BLOB)
        await conn.execute(
            "UPDATE dedup_events SET body_tier = 2, event = NULL, cold_pack_id = $3, "
            "cold_offset = 0, cold_length = $4, cold_sha256 = $5 "
            "WHERE tenant_id = $1 AND event_id = $2",
            key.tenant_id,
            key.event_id,
            "0" * 32,
            COLD_LENGTH,
            hashlib.sha256(b"cold").digest(),
        )
        return COLD_LENGTH
    finally:
        await conn.close()


async def insert_raw(dsn: str, tenant_id: str, event_id: str) -> None:
    """A key row written straight into a shard, as an interrupted copy would leave it."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO dedup_events (tenant_id, event_id, hlc, region, node, seq, digest, "
            "event, accepted_at_ms) VALUES ($1, $2, 1, 'us', 'n1', 1, $3, 'x', 0)",
            tenant_id,
            event_id,
            hashlib.sha256(b"x").digest(),
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(("ring", "to_ring"), [(1, 2), (2, 4)])
async def test_moves_are_what_shard_of_computes_key_by_key(
    running_stack: RunningStack, ring: int, to_ring: int
) -> None:
    region = await region_with_ring(running_stack, "mp_moves", ring, to_ring)
    keys = await write_keys(region, KEYS)

    outcome = await plan_migration("us", region, to_ring, RATE)

    assert outcome.plan is not None, outcome.report.failed
    expected_keys: Counter[tuple[int, int]] = Counter()
    expected_bytes: Counter[tuple[int, int]] = Counter()
    expected_copies: Counter[tuple[int, int]] = Counter()
    for key in keys:
        pair = (
            shard_of(key.tenant_id, key.event_id, ring),
            shard_of(key.tenant_id, key.event_id, to_ring),
        )
        if pair[0] != pair[1]:
            expected_keys[pair] += 1
            expected_bytes[pair] += key.body_bytes
            expected_copies[pair] += key.copies
    moves = {(m.source, m.target): m for m in outcome.plan.moves}
    assert {p: m.keys for p, m in moves.items()} == dict(expected_keys)
    assert {p: m.bytes for p, m in moves.items()} == dict(expected_bytes)
    assert {p: m.copies for p, m in moves.items()} == dict(expected_copies)
    # Keys never move between old shards: only from the old ring to the new shards.
    sources, targets = moving_shards(ring, to_ring)
    assert set(moves) == {(s, t) for s in sources for t in targets}
    assert outcome.plan.estimated_copy_s == -(-outcome.plan.total_keys // RATE)
    assert outcome.plan.id.startswith(f"us-{ring}to{to_ring}-")
    assert await stored_plans("us", region) == [outcome.plan]
    conn = await asyncpg.connect(region.control_dsn)
    try:
        assert await fetch_plan(conn, outcome.plan.id) == outcome.plan
    finally:
        await conn.close()
    statuses = {(c.name, c.shard): c.status for c in outcome.plan.checks}
    assert statuses[("empty", to_ring - 1)] is CheckStatus.OK
    assert statuses[("schema", to_ring - 1)] is CheckStatus.OK
    # The embedded server runs on this machine: its free disk is known.
    assert statuses[("free_space", to_ring - 1)] is CheckStatus.OK


async def test_a_region_with_a_running_plan_is_refused_naming_it(
    running_stack: RunningStack,
) -> None:
    region = await region_with_ring(running_stack, "mp_running", 1, 2)
    first = await plan_migration("us", region, 2, RATE)
    assert first.plan is not None
    await execute(
        region.control_dsn,
        "UPDATE dedup_migration_plans SET state = 'running' WHERE id = $1",
        first.plan.id,
    )

    second = await plan_migration("us", region, 2, RATE)

    assert second.plan is None
    [refusal] = second.report.failed
    assert refusal.name == "no_running_migration" and first.plan.id in refusal.reason
    assert [p.id for p in await stored_plans("us", region)] == [first.plan.id]
    # The index, not only the check, keeps it to one running plan per region.
    other = first.plan.model_copy(update={"id": "us-1to2-ffffffff"})
    await execute(
        region.control_dsn,
        "INSERT INTO dedup_migration_plans (id, region, from_ring, to_ring, routing_epoch, "
        "moves, checks, rate_keys_per_s, estimated_copy_s, state) "
        "VALUES ($1, 'us', 1, 2, 1, '[]', '[]', 1, 0, 'planned')",
        other.id,
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await execute(
            region.control_dsn,
            "UPDATE dedup_migration_plans SET state = 'running' WHERE id = $1",
            other.id,
        )


async def test_foreign_rows_on_a_target_fail_the_plan_and_store_nothing(
    running_stack: RunningStack,
) -> None:
    region = await region_with_ring(running_stack, "mp_foreign", 2, 4)
    await write_keys(region, 200)
    own = next(f"r{i}" for i in range(1000) if shard_of("acme", f"r{i}", 4) == 3)
    await insert_raw(region.shard_dsns[3], "acme", own)

    resumable = await plan_migration("us", region, 4, RATE)
    assert resumable.plan is not None
    [empty] = [c for c in resumable.plan.checks if c.name == "empty" and c.shard == 3]
    assert empty.status is CheckStatus.OK and "resumable" in empty.reason
    await execute(region.control_dsn, "DELETE FROM dedup_migration_plans")

    foreign = next(f"f{i}" for i in range(1000) if shard_of("acme", f"f{i}", 4) == 0)
    await insert_raw(region.shard_dsns[3], "acme", foreign)
    outcome = await plan_migration("us", region, 4, RATE)

    assert outcome.plan is None
    [failed] = outcome.report.failed
    assert (failed.name, failed.shard) == ("empty", 3)
    assert f"found 1 that do not (e.g. acme/{foreign})" in failed.reason
    assert await stored_plans("us", region) == []


# The CLI: sync tests (each command runs its own event loop), on a region prepared once.


@pytest.fixture(scope="module")
async def cli_env(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    region = await region_with_ring(running_stack, "mp_cli", 2, 4)
    await write_keys(region, 500)
    regions = {**running_stack.settings.regions, "us": region}
    settings = running_stack.settings.model_copy(update={"regions": regions})
    return settings_env(settings, running_stack.config_path)


def dedup_migrate(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_cli_plan_json_round_trips_into_the_model_and_is_listed(cli_env: dict) -> None:
    code, output = dedup_migrate(cli_env, "plan", "--region", "us", "--to", "4", "--json")

    assert code == 0, output
    plan = MigrationPlan.model_validate_json(output)
    assert (plan.from_ring, plan.to_ring, plan.rate_keys_per_s) == (2, 4, 5000.0)
    code, output = dedup_migrate(cli_env, "plans", "--region", "us", "--json")
    assert code == 0, output
    assert plan in [MigrationPlan.model_validate(p) for p in json.loads(output)["plans"]]
    code, output = dedup_migrate(cli_env, "plan", "-r", "us", "--to", "3", "--rate", "50")
    assert code == 0, output
    assert "stored plan us-2to3-" in output and "at 50 keys/s" in output


def test_cli_exit_codes(cli_env: dict, tmp_path: Path) -> None:
    # 1: a precondition failed (the ring already has 2 shards; 5 are not configured).
    for to in ("2", "5"):
        code, output = dedup_migrate(cli_env, "plan", "--region", "us", "--to", to, "--json")
        assert code == 1, output
        assert PlanReport.model_validate_json(output).failed
    # 2: bad input.
    assert dedup_migrate(cli_env, "plan", "--region", "nowhere", "--to", "2")[0] == 2
    assert dedup_migrate(cli_env, "plan", "--region", "us", "--to", "0")[0] == 2
    # 3: the control database is unreachable.
    regions = json.loads(cli_env["GEOLEDGER_REGIONS"])
    regions["us"]["control_dsn"] = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    down = {**cli_env, "GEOLEDGER_REGIONS": json.dumps(regions)}
    code, output = dedup_migrate(down, "plan", "--region", "us", "--to", "4")
    assert code == 3, output


async def execute(dsn: str, query: str, *args: object) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(query, *args)
    finally:
        await conn.close()
