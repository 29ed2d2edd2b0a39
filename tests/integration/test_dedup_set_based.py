"""Apply is set-based: the statements a batch costs do not grow with its size.

The store accepts an `init` hook for its connections; here it attaches an asyncpg query logger,
which sees every statement the client sends (BEGIN and COMMIT included). Two deterministic checks
follow from it, and both fail if someone reverts to per-row SQL:
- a batch of 1,000 records sends exactly as many statements as a batch of 10;
- the records travel as arrays: the statements that carry data carry all 1,000 records, once.
A throughput floor backs them up coarsely: it sits far below what this machine measures
(tests/perf/bench_dedup.py: ~17,000 records/s for 1,000-record batches when idle, ~5,000 when
heavily loaded), so that it does not flake on a busy machine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ledger.config import RegionConfig
from storage.dedup import DedupStore, migrate_region
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region, record, truncate_shards

pytestmark = pytest.mark.timeout(120)

MIN_RECORDS_PER_SECOND = 1_000


class Statements:
    def __init__(self) -> None:
        self.logged: list[Any] = []

    async def init(self, conn: Any) -> None:
        conn.add_query_logger(self.logged.append)

    async def during(self, work: Any) -> list[Any]:
        self.logged.clear()
        await work
        await asyncio.sleep(0.05)  # loggers are called soon after, not during, each statement
        return list(self.logged)


@pytest.fixture(scope="module")
async def region(running_stack: RunningStack) -> RegionConfig:
    region = await fresh_region(running_stack, "dd_set")
    await migrate_region(region)
    return region


@pytest.fixture
async def watched(region: RegionConfig) -> AsyncIterator[tuple[DedupStore, Statements]]:
    await truncate_shards(region)
    statements = Statements()
    async with await DedupStore.open(region, init=statements.init) as store:
        yield store, statements


def batch(size: int, prefix: str, hlc: int = 10) -> list[Any]:
    return [record(f"{prefix}{i:05d}", hlc=hlc + i, seq=i + 1) for i in range(size)]


async def test_statement_count_does_not_grow_with_the_batch(
    watched: tuple[DedupStore, Statements],
) -> None:
    store, statements = watched
    # Warm the pools so connection set-up (type introspection) is not counted.
    await store.apply(batch(10, "warm"))

    small = await statements.during(store.apply(batch(10, "s")))
    large = await statements.during(store.apply(batch(1_000, "l")))
    replay = await statements.during(store.apply(batch(1_000, "l", hlc=1)))  # displaces all

    assert len(small) == len(large) == len(replay)
    # One call of dedup_apply per shard, its own transaction.
    assert len(small) == len(store.pools.shards), [q.query[:40] for q in small]


def carried(logged: list[Any]) -> list[int]:
    """Per logged statement that carries records, how many its arrays hold."""
    return [len(q.args[0]) for q in logged if q.args and isinstance(q.args[0], list)]


async def test_records_travel_as_arrays(watched: tuple[DedupStore, Statements]) -> None:
    store, statements = watched
    shards = len(store.pools.shards)
    await store.apply(batch(10, "warm"))

    new = carried(await statements.during(store.apply(batch(1_000, "a"))))
    again = carried(await statements.during(store.apply(batch(1_000, "a"))))

    # Each shard's one statement carries its records once, whether they are new or not.
    assert len(new) == shards and sum(new) == 1_000
    assert len(again) == shards and sum(again) == 1_000


async def test_throughput_floor(watched: tuple[DedupStore, Statements]) -> None:
    store, _ = watched
    records = batch(5_000, "t")
    started = time.perf_counter()
    for start in range(0, len(records), 1_000):
        await store.apply(records[start : start + 1_000])
    rate = len(records) / (time.perf_counter() - started)
    assert rate > MIN_RECORDS_PER_SECOND, f"{rate:.0f} records/s"
    assert await store.count_events() == 5_000
