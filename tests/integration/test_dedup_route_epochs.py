"""Advancing a region's route epoch by epoch, which writers have acknowledged it, and where
applies go in each phase, against real PostgreSQL."""

from __future__ import annotations

import asyncpg
import pytest

from ledger.ring import shard_of
from storage.dedup import (
    DedupStore,
    Outcome,
    Phase,
    Route,
    RoutingError,
    advance_route,
    migrate_region,
    route_acks,
)
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import advance_store, fresh_region, record

pytestmark = pytest.mark.timeout(120)


async def test_advancing_is_idempotent_and_refuses_a_route_that_moved_on(
    running_stack: RunningStack,
) -> None:
    region = await fresh_region(running_stack, "dd_adv")
    await migrate_region(region)
    conn = await asyncpg.connect(region.control_dsn)
    try:
        step = {"ring_size": 2, "next_ring_size": 3, "migration_id": "us-2to3-0000000a"}
        copy = await advance_route(conn, from_epoch=1, phase=Phase.COPY, **step)
        # An activity retried after its commit appends nothing twice.
        again = await advance_route(conn, from_epoch=1, phase=Phase.COPY, **step)
        assert copy == again == Route(2, 2, Phase.COPY, 3, "us-2to3-0000000a")

        with pytest.raises(RoutingError, match=r"expected routing epoch 1 .* found epoch 2"):
            await advance_route(conn, from_epoch=1, phase=Phase.VERIFY, **step)
        with pytest.raises(RoutingError, match=r"expected routing epoch 5 .* found epoch 2"):
            await advance_route(conn, from_epoch=5, phase=Phase.VERIFY, **step)

        reads = await advance_route(conn, from_epoch=2, phase=Phase.CUTOVER_READS, **step)
        assert reads.read_ring == 3
        # A stable route migrates to nothing, whatever the caller passes.
        done = await advance_route(conn, from_epoch=3, phase=Phase.STABLE, **step)
        assert (done.epoch, done.next_ring_size) == (4, None)
        rows = await conn.fetch("SELECT epoch, phase FROM dedup_routing ORDER BY epoch")
        assert [tuple(row) for row in rows] == [
            (1, "stable"),
            (2, "copy"),
            (3, "cutover_reads"),
            (4, "stable"),
        ]
    finally:
        await conn.close()


async def test_acks_count_live_writers_only(running_stack: RunningStack) -> None:
    region = await fresh_region(running_stack, "dd_ack")
    await migrate_region(region)
    conn = await asyncpg.connect(region.control_dsn)
    try:
        await conn.execute(
            "INSERT INTO dedup_route_nodes (node, role, epoch, acked_at, seen_at) VALUES "
            "('ingest/us/n1', 'ingest', 3, now(), now()), "
            "('worker/h/1', 'worker', 2, now(), now() - interval '2 seconds'), "
            "('worker/h/2', 'worker', 4, now(), now()), "
            "('ingest/us/gone', 'ingest', 1, now(), now() - interval '1 minute')"
        )
        acks = await route_acks(conn, 3, live_within_s=10)
    finally:
        await conn.close()

    assert acks.epoch == 3
    assert [node.node for node in acks.acked] == ["ingest/us/n1", "worker/h/2"]
    [pending] = acks.pending
    assert (pending.node, pending.role, pending.epoch) == ("worker/h/1", "worker", 2)
    assert 1.5 < pending.seen_s_ago < 10
    assert not acks.complete


@pytest.mark.parametrize(
    ("phase", "answer"),
    [
        (Phase.DUAL_WRITE, Outcome.DUPLICATE),
        (Phase.CUTOVER_READS, Outcome.ACCEPTED),
        (Phase.CUTOVER, Outcome.ACCEPTED),
    ],
)
async def test_a_dual_written_key_reaches_both_shards_and_the_read_shard_answers(
    running_stack: RunningStack, phase: Phase, answer: Outcome
) -> None:
    region = await fresh_region(running_stack, "dd_dual", shards=3)
    await migrate_region(region.model_copy(update={"shard_dsns": region.shard_dsns[:2]}))
    await migrate_region(region)  # migrates the third shard; the route stays at 2
    moving = next(f"m{i}" for i in range(1000) if shard_of("acme", f"m{i}", 3) == 2)
    old = shard_of("acme", moving, 2)
    async with await DedupStore.open(region) as store:
        # Written before the copy: only the old shard holds the key.
        await store.apply([record(moving, hlc=1, seq=1)], stream="us/n1", through_seq=1)
        await advance_store(store, 1, phase, next_ring_size=3)

        # The same content again from another node: a duplicate where the key is, new where not.
        [result] = await store.apply(
            [record(moving, hlc=2, node="n2", seq=1)], stream="us/n2", through_seq=1
        )

        assert result.outcome is answer
        for shard in (old, 2):
            held = await store.pools.shards[shard].fetchval(
                "SELECT count(*) FROM dedup_events WHERE event_id = $1", moving
            )
            assert held == 1, f"shard {shard}"
        # Positions are the read ring's: once it is the new ring, the new shard (which never saw
        # us/n1, there being no copy here) holds the watermark of us/n1 down.
        through_n1 = 1 if phase is Phase.DUAL_WRITE else 0
        assert await store.applied_positions() == {"us/n1": through_n1, "us/n2": 1}
