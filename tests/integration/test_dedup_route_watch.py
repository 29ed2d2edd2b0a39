"""A watched writer's store against real PostgreSQL: it registers, follows the route, acknowledges
a new epoch only after its older applies finished, stops writing when its lease runs out, and
leaves no row behind when it closes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from ledger.config import RegionConfig
from ledger.ring import shard_of
from storage.dedup import (
    DedupStore,
    Outcome,
    Phase,
    RouteLeaseExpiredError,
    RouteNode,
    RouteWatchOptions,
    advance_route,
    migrate_region,
    route_acks,
)
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region, record

pytestmark = pytest.mark.timeout(120)

NODE = RouteNode("ingest/us/n1", "ingest")
FAST = RouteWatchOptions(poll_s=0.05, lease_s=0.5)


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {check}")
        await asyncio.sleep(0.02)


async def node_epochs(region: RegionConfig) -> dict[str, int]:
    conn = await asyncpg.connect(region.control_dsn)
    try:
        rows = await conn.fetch("SELECT node, epoch FROM dedup_route_nodes")
    finally:
        await conn.close()
    return {row["node"]: int(row["epoch"]) for row in rows}


async def acked(region: RegionConfig, epoch: int) -> bool:
    return (await node_epochs(region)).get(NODE.name) == epoch


async def switched(store: DedupStore, epoch: int) -> bool:
    return store.route.epoch == epoch


async def test_a_new_epoch_is_acked_only_after_older_applies_finished(
    running_stack: RunningStack,
) -> None:
    region = await fresh_region(running_stack, "dd_watch")
    await migrate_region(region)
    async with await DedupStore.open(region, node=NODE, watch=FAST) as store:
        assert await node_epochs(region) == {NODE.name: 1}
        await store.apply([record("held", hlc=1)])
        shard = await asyncpg.connect(region.shard_dsns[shard_of("acme", "held", 2)])
        try:
            # Hold the key's row so that an apply of it under epoch 1 cannot finish.
            blocker = shard.transaction()
            await blocker.start()
            await shard.execute("SELECT 1 FROM dedup_events WHERE event_id = 'held' FOR UPDATE")
            held = asyncio.create_task(store.apply([record("held", hlc=2, node="n2")]))
            await asyncio.sleep(0.2)
            assert not held.done()

            # Appended by the migration; the store picks it up by its own poll.
            async with store.pools.control.acquire() as conn:
                await advance_route(
                    conn,
                    from_epoch=1,
                    ring_size=2,
                    next_ring_size=1,
                    phase=Phase.COPY,
                    migration_id="us-2to1-0000000c",
                )
            await until(lambda: switched(store, 2))
            await asyncio.sleep(10 * FAST.poll_s)
            # New applies already use epoch 2, but the node still writes under epoch 1.
            assert await node_epochs(region) == {NODE.name: 1}
            async with store.pools.control.acquire() as conn:
                acks = await route_acks(conn, 2, live_within_s=5)
            assert [n.node for n in acks.pending] == [NODE.name] and not acks.acked

            await blocker.rollback()
            [result] = await held
            assert result.outcome is Outcome.DUPLICATE
        finally:
            await shard.close()
        await until(lambda: acked(region, 2))


async def test_a_store_cut_off_from_its_control_database_stops_writing(
    running_stack: RunningStack,
) -> None:
    region = await fresh_region(running_stack, "dd_lease")
    await migrate_region(region)
    store = await DedupStore.open(region, node=NODE, watch=FAST)
    try:
        await store.apply([record("before", hlc=1)])
        # The shards are still there; only the route can no longer be read.
        await store.pools.control.close()
        await asyncio.sleep(FAST.lease_s + 4 * FAST.poll_s)

        with pytest.raises(RouteLeaseExpiredError, match=r"node ingest/us/n1.*epoch 1") as raised:
            await store.apply([record("after", hlc=2)])
        assert "s ago" in str(raised.value)
        for dsn in region.shard_dsns:
            conn = await asyncpg.connect(dsn)
            try:
                assert (
                    await conn.fetchval(
                        "SELECT count(*) FROM dedup_events WHERE event_id = 'after'"
                    )
                    == 0
                )
            finally:
                await conn.close()
    finally:
        await store.close()


async def test_closing_removes_the_node_and_unwatched_stores_never_register(
    running_stack: RunningStack,
) -> None:
    region = await fresh_region(running_stack, "dd_close")
    await migrate_region(region)
    reader = await DedupStore.open(region)
    store = await DedupStore.open(region, node=NODE, watch=FAST)
    assert await node_epochs(region) == {NODE.name: 1}

    await store.close()

    assert await node_epochs(region) == {}
    # A reader follows nothing and never expires.
    await asyncio.sleep(FAST.lease_s + FAST.poll_s)
    await reader.apply([record("late", hlc=1)])
    await reader.close()
    assert await node_epochs(region) == {}
