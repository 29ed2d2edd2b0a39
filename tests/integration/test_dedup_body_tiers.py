"""The shard schema's body tiers (migration 0006) on a real PostgreSQL: a body is in exactly one
tier, the constraint refuses every other shape, moving a body changes nothing a region compares,
and a new winner displacing a demoted one arrives hot (the trigger), whatever tier the old
winner's body was in."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from ledger.config import RegionConfig
from storage.dedup import DedupStore, migrate_region
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region, record

BODY_COLUMNS = "body_tier, event, warm_body, cold_pack_id, cold_offset, cold_length, cold_sha256"
PACK_ID = "0123456789abcdef0123456789abcdef"
WARM = "UPDATE dedup_events SET body_tier = 1, event = NULL, warm_body = $3 " + (
    "WHERE tenant_id = $1 AND event_id = $2"
)
COLD = (
    "UPDATE dedup_events SET body_tier = 2, event = NULL, warm_body = NULL, cold_pack_id = $3, "
    "cold_offset = 12, cold_length = 40, cold_sha256 = $4 WHERE tenant_id = $1 AND event_id = $2"
)


@pytest.fixture(scope="module")
async def region(running_stack: RunningStack) -> RegionConfig:
    config = await fresh_region(running_stack, "dd_tiers", shards=1)
    await migrate_region(config)
    return config


@pytest.fixture
async def shard(region: RegionConfig) -> AsyncIterator[Any]:
    conn = await asyncpg.connect(region.shard_dsns[0])
    try:
        yield conn
    finally:
        await conn.close()


async def body_of(conn: Any, event_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"SELECT {BODY_COLUMNS} FROM dedup_events WHERE tenant_id = 'acme' AND event_id = $1",
        event_id,
    )
    return dict(row)


async def test_the_apply_writes_hot_bodies(region: RegionConfig, shard: Any) -> None:
    async with await DedupStore.open(region) as store:
        await store.apply([record("hot-1", hlc=10)])
    body = await body_of(shard, "hot-1")
    assert body["body_tier"] == 0
    assert body["event"] == record("hot-1", hlc=10).event
    assert [body[c] for c in ("warm_body", "cold_pack_id", "cold_sha256")] == [None] * 3


async def test_moving_a_body_changes_no_dump_column_but_the_body(
    region: RegionConfig, shard: Any
) -> None:
    async with await DedupStore.open(region) as store:
        await store.apply([record("move-1", hlc=10)])
    key_row = "SELECT tenant_id, event_id, hlc, region, node, seq, digest, accepted_at_ms "
    key_row += "FROM dedup_events WHERE event_id = 'move-1'"
    before = dict(await shard.fetchrow(key_row))
    await shard.execute(WARM, "acme", "move-1", b"\x00blob")
    assert dict(await shard.fetchrow(key_row)) == before
    await shard.execute(COLD, "acme", "move-1", PACK_ID, hashlib.sha256(b"x").digest())
    assert dict(await shard.fetchrow(key_row)) == before
    assert (await body_of(shard, "move-1"))["body_tier"] == 2


# Shapes a row may never have, each refused by dedup_events_body_in_one_tier.
INVALID_BODIES = [
    ("hot without its body", "body_tier = 0, event = NULL"),
    ("hot with a warm blob too", "warm_body = '\\x00ab'::bytea"),
    ("hot with a cold location too", f"cold_pack_id = '{PACK_ID}'"),
    ("warm without a blob", "body_tier = 1, event = NULL"),
    ("warm keeping the hot body", "body_tier = 1, warm_body = '\\x00ab'::bytea"),
    ("warm with an empty blob", "body_tier = 1, event = NULL, warm_body = ''::bytea"),
    ("cold without a location", "body_tier = 2, event = NULL"),
    (
        "cold with a malformed pack id",
        "body_tier = 2, event = NULL, cold_pack_id = 'PACK', cold_offset = 0, "
        "cold_length = 1, cold_sha256 = sha256('x')",
    ),
    (
        "cold with an empty blob",
        f"body_tier = 2, event = NULL, cold_pack_id = '{PACK_ID}', cold_offset = 0, "
        "cold_length = 0, cold_sha256 = sha256('x')",
    ),
    (
        "cold with a short hash",
        f"body_tier = 2, event = NULL, cold_pack_id = '{PACK_ID}', cold_offset = 0, "
        "cold_length = 1, cold_sha256 = '\\x0102'::bytea",
    ),
    ("an unknown tier", "body_tier = 3"),
]


@pytest.mark.parametrize(
    ("shape", "assignments"), INVALID_BODIES, ids=[s for s, _ in INVALID_BODIES]
)
async def test_a_body_is_in_exactly_one_tier(
    region: RegionConfig, shard: Any, shape: str, assignments: str
) -> None:
    event_id = f"shape-{INVALID_BODIES.index((shape, assignments))}"
    async with await DedupStore.open(region) as store:
        await store.apply([record(event_id, hlc=10)])
    before = await body_of(shard, event_id)
    with pytest.raises(asyncpg.CheckViolationError, match="dedup_events_body_in_one_tier"):
        await shard.execute(
            f"UPDATE dedup_events SET {assignments} WHERE tenant_id = 'acme' AND event_id = $1",
            event_id,
        )
    assert await body_of(shard, event_id) == before


@pytest.mark.parametrize("demoted_to", ["warm", "cold"])
async def test_an_earlier_record_displacing_a_demoted_winner_arrives_hot(
    region: RegionConfig, shard: Any, demoted_to: str
) -> None:
    event_id = f"displaced-{demoted_to}"
    later = record(event_id, hlc=20, seq=2, content="later")
    earlier = record(event_id, hlc=10, region="eu", seq=7, content="earlier")
    async with await DedupStore.open(region) as store:
        await store.apply([later])
        if demoted_to == "warm":
            await shard.execute(WARM, "acme", event_id, b"\x00" + later.event)
        else:
            await shard.execute(COLD, "acme", event_id, PACK_ID, hashlib.sha256(b"x").digest())
        [result] = await store.apply([earlier])
    assert result.winner.region == "eu"
    assert await body_of(shard, event_id) == {
        "body_tier": 0,
        "event": earlier.event,
        "warm_body": None,
        "cold_pack_id": None,
        "cold_offset": None,
        "cold_length": None,
        "cold_sha256": None,
    }


async def test_a_later_record_leaves_a_demoted_winner_where_it_is(
    region: RegionConfig, shard: Any
) -> None:
    event_id = "kept-warm"
    first = record(event_id, hlc=10, content="first")
    async with await DedupStore.open(region) as store:
        await store.apply([first])
        await shard.execute(WARM, "acme", event_id, b"\x00" + first.event)
        await store.apply([record(event_id, hlc=30, region="eu", seq=9, content="second")])
    body = await body_of(shard, event_id)
    assert (body["body_tier"], body["warm_body"]) == (1, b"\x00" + first.event)
