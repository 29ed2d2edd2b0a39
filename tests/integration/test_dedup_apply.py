"""The dedup store's apply against real PostgreSQL shards: the winner rule, outcomes, positions,
atomicity, preconditions and concurrent writers of one key."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ledger.config import RegionConfig
from ledger.order import WinnerKey
from ledger.ring import shard_of
from storage.dedup import (
    DedupRecord,
    DedupRecordError,
    DedupShardError,
    DedupStore,
    Origin,
    Outcome,
    migrate_region,
)
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import digest_of, fresh_region, record, truncate_shards

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
async def region(running_stack: RunningStack) -> RegionConfig:
    region = await fresh_region(running_stack, "dd_apply")
    await migrate_region(region)
    return region


@pytest.fixture
async def store(region: RegionConfig) -> AsyncIterator[DedupStore]:
    await truncate_shards(region)
    async with await DedupStore.open(region) as store:
        yield store


async def copies_of(store: DedupStore, event_id: str, tenant_id: str = "acme") -> set[Origin]:
    shard = store.route.read_shard(tenant_id, event_id)
    rows = await store.pools.shards[shard].fetch(
        "SELECT region, node, seq FROM dedup_copies WHERE tenant_id = $1 AND event_id = $2",
        tenant_id,
        event_id,
    )
    return {Origin(r["region"], r["node"], r["seq"]) for r in rows}


# (earlier, later): the first wins on exactly one component of (hlc, region, node, seq).
TIE_BREAKS = {
    "hlc": (dict(hlc=1, region="us"), dict(hlc=2, region="eu")),
    "region": (dict(hlc=5, region="eu", node="n9"), dict(hlc=5, region="us", node="n1")),
    "node": (dict(hlc=5, node="n1", seq=9), dict(hlc=5, node="n2", seq=1)),
    "seq": (dict(hlc=5, seq=1), dict(hlc=5, seq=2)),
    # Byte order, not numeric or locale order: "n10" < "n9", "us" < "us-west".
    "node-bytes": (dict(hlc=5, node="n10"), dict(hlc=5, node="n9")),
    "region-prefix": (dict(hlc=5, region="us"), dict(hlc=5, region="us-west")),
}


@pytest.mark.parametrize("component", list(TIE_BREAKS))
@pytest.mark.parametrize("earlier_first", [True, False])
async def test_earliest_record_wins_on_each_component(
    store: DedupStore, component: str, earlier_first: bool
) -> None:
    earlier_fields, later_fields = TIE_BREAKS[component]
    earlier = record("k", content="a", **earlier_fields)  # type: ignore[arg-type]
    later = record("k", content="b", **later_fields)  # type: ignore[arg-type]
    assert earlier.winner_key < later.winner_key  # the table agrees with ledger.order
    for rec in [earlier, later] if earlier_first else [later, earlier]:
        await store.apply([rec])

    stored = await store.get_event("acme", "k")
    assert stored is not None
    assert (stored.origin, stored.event, stored.digest) == (
        earlier.origin,
        earlier.event,
        earlier.digest,
    )
    assert await copies_of(store, "k") == {later.origin}


async def test_outcomes_accepted_duplicate_conflict(store: DedupStore) -> None:
    first = record("k", hlc=10, seq=1, content="a")
    same = record("k", hlc=20, region="eu", seq=1, content="a")
    other = record("k", hlc=30, region="eu", seq=2, content="b")

    [r1] = await store.apply([first])
    [r2] = await store.apply([same])
    [r3] = await store.apply([other])

    assert [r1.outcome, r2.outcome, r3.outcome] == [
        Outcome.ACCEPTED,
        Outcome.DUPLICATE,
        Outcome.CONFLICT,
    ]
    assert {r.winner for r in (r1, r2, r3)} == {first.origin}
    assert r3.winner_digest == digest_of("a") and r3.winner_hlc == 10
    assert await store.count_copies() == (1, 1)


async def test_an_earlier_record_displaces_the_winner(store: DedupStore) -> None:
    late = record("k", hlc=50, seq=7, content="late")
    early = record("k", hlc=40, region="eu", seq=3, content="early")
    await store.apply([late])

    [result] = await store.apply([early])

    assert (result.outcome, result.winner) == (Outcome.ACCEPTED, early.origin)
    stored = await store.get_event("acme", "k")
    assert stored is not None and stored.event == early.event
    assert stored.accepted_at_ms == early.accepted_at_ms and stored.hlc == 40
    assert await copies_of(store, "k") == {late.origin}
    # The displaced winner is now a conflicting loser; re-applying it says so.
    [again] = await store.apply([late])
    assert (again.outcome, again.winner) == (Outcome.CONFLICT, early.origin)
    [conflict] = await store.conflicts()
    assert (conflict.winner, conflict.loser) == (early.origin, late.origin)
    assert (conflict.winner_digest, conflict.loser_digest) == (early.digest, late.digest)


async def test_reapplying_changes_nothing_and_reports_the_current_outcome(
    store: DedupStore,
) -> None:
    records = [
        record("k1", hlc=3, seq=1, content="a"),
        record("k1", hlc=4, seq=2, content="a"),
        record("k1", hlc=5, seq=3, content="b"),
        record("k2", hlc=9, seq=4),
    ]
    first = await store.apply(records)
    digest = await store.dump_digest_total()

    for _ in range(2):
        assert await store.apply(records) == first
        assert await store.apply(list(reversed(records))) == list(reversed(first))
    assert await store.dump_digest_total() == digest
    assert [r.outcome for r in first] == [
        Outcome.ACCEPTED,
        Outcome.DUPLICATE,
        Outcome.CONFLICT,
        Outcome.ACCEPTED,
    ]
    assert await store.count_events() == 2


async def test_one_batch_with_repeats_and_rivals_of_one_key(store: DedupStore) -> None:
    a = record("k", hlc=7, seq=1, content="a")
    b = record("k", hlc=6, region="eu", seq=1, content="b")
    c = record("k", hlc=8, region="eu", seq=2, content="b")

    results = await store.apply([a, b, a, c, b])

    assert [r.outcome for r in results] == [
        Outcome.CONFLICT,
        Outcome.ACCEPTED,
        Outcome.CONFLICT,
        Outcome.DUPLICATE,
        Outcome.ACCEPTED,
    ]
    assert {r.winner for r in results} == {b.origin}
    assert await copies_of(store, "k") == {a.origin, c.origin}


async def test_results_follow_input_order_across_shards(store: DedupStore) -> None:
    records = [record(f"e{i}", hlc=100 + i, seq=i) for i in range(40)]
    assert len({store.route.read_shard("acme", r.event_id) for r in records}) == 2

    results = await store.apply(records)

    assert [(r.event_id, r.winner.seq) for r in results] == [(f"e{i}", i) for i in range(40)]
    for i in (0, 17, 39):
        stored = await store.get_event("acme", f"e{i}")
        assert stored is not None and stored.origin.seq == i
    assert await store.get_event("acme", "missing") is None
    assert await store.get_event("other-tenant", "e0") is None


async def test_held_event_ids_are_the_applied_keys_of_the_tenant_on_every_shard(
    store: DedupStore,
) -> None:
    await store.apply([record(f"e{i}", hlc=100 + i, seq=i) for i in range(40)])
    asked = {f"e{i}" for i in range(0, 60, 3)} | {"missing"}

    held = await store.held_event_ids("acme", asked)

    assert held == {f"e{i}" for i in range(0, 40, 3)}
    assert {store.route.read_shard("acme", e) for e in held} == {0, 1}
    assert await store.held_event_ids("other-tenant", asked) == set()
    assert await store.held_event_ids("acme", []) == set()


async def test_position_reaches_every_shard_and_never_goes_back(store: DedupStore) -> None:
    # One record lands on one shard, yet the region's watermark needs every shard to move.
    await store.apply([record("only", hlc=1, seq=7)], stream="us/n1", through_seq=7)
    assert await store.applied_position("us/n1") == 7

    await store.apply([record("older", hlc=1, seq=3)], stream="us/n1", through_seq=3)
    assert await store.applied_position("us/n1") == 7

    # A segment whose records all failed signature checks still advances the watermark.
    await store.apply([], stream="us/n1", through_seq=12)
    assert await store.applied_positions() == {"us/n1": 12}
    assert await store.applied_position("eu/n1") == 0


async def test_watermark_is_the_minimum_over_shards(store: DedupStore) -> None:
    await store.apply([], stream="eu/n2", through_seq=30)
    await store.pools.shards[1].execute(
        "UPDATE applied_positions SET seq = 21 WHERE stream = 'eu/n2'"
    )
    assert await store.applied_position("eu/n2") == 21


async def _install_failing_trigger(dsn: str) -> None:
    """Make inserts into dedup_copies of event id 'boom' fail: a failure after the winner upsert
    and inside the same transaction."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            CREATE OR REPLACE FUNCTION test_boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.event_id = 'boom' THEN
                    RAISE EXCEPTION 'injected failure for %', NEW.event_id;
                END IF;
                RETURN NEW;
            END $$;
            DROP TRIGGER IF EXISTS test_boom ON dedup_copies;
            CREATE TRIGGER test_boom BEFORE INSERT ON dedup_copies
                FOR EACH ROW EXECUTE FUNCTION test_boom();
            """
        )
    finally:
        await conn.close()


async def _drop_failing_trigger(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TRIGGER IF EXISTS test_boom ON dedup_copies")
    finally:
        await conn.close()


async def test_a_failure_mid_transaction_leaves_neither_records_nor_position(
    store: DedupStore, region: RegionConfig
) -> None:
    boom_shard = shard_of("acme", "boom", 2)
    # A new key on the same shard as 'boom': its winner row is written before the failure.
    sibling = next(f"s{i}" for i in itertools.count() if shard_of("acme", f"s{i}", 2) == boom_shard)
    await store.apply([], stream="us/n1", through_seq=5)
    dsn = region.shard_dsns[boom_shard]
    await _install_failing_trigger(dsn)
    try:
        batch = [
            record(sibling, hlc=1, seq=6),
            record("boom", hlc=2, seq=7, content="a"),
            record("boom", hlc=3, seq=8, content="b"),  # a loser: inserted into dedup_copies
        ]
        with pytest.raises(DedupShardError, match="injected failure") as raised:
            await store.apply(batch, stream="us/n1", through_seq=8)
        assert raised.value.shard == boom_shard
    finally:
        await _drop_failing_trigger(dsn)

    assert await store.get_event("acme", sibling) is None
    assert await store.get_event("acme", "boom") is None
    shard_positions = await store.pools.shards[boom_shard].fetch("SELECT * FROM applied_positions")
    assert [(r["stream"], r["seq"]) for r in shard_positions] == [("us/n1", 5)]
    assert await store.applied_position("us/n1") == 5
    # The connection that failed is healthy again: the same batch now applies.
    await store.apply(batch, stream="us/n1", through_seq=8)
    assert await store.applied_position("us/n1") == 8


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (dict(digest=b"\x00" * 31), "digest: expected 32 bytes, got 31"),
        (dict(event=b""), "event: expected the non-empty bytes"),
        (dict(hlc=-1), "hlc: expected an integer in 0..2\\*\\*63-1"),
        (dict(hlc=1 << 63), "hlc: expected an integer in 0..2\\*\\*63-1"),
        (dict(seq=True), "seq: expected an integer"),
        (dict(tenant_id=""), "tenant_id: expected a non-empty string"),
        (dict(node="n\x001"), "node: expected a non-empty string without NUL"),
    ],
)
async def test_a_bad_record_is_refused_before_anything_is_written(
    store: DedupStore, bad: dict[str, object], message: str
) -> None:
    good = record("good", hlc=1)
    fields = {name: getattr(good, name) for name in DedupRecord.__dataclass_fields__}
    broken = DedupRecord(**{**fields, "event_id": "bad", **bad})  # type: ignore[arg-type]

    with pytest.raises(DedupRecordError, match=message):
        await store.apply([good, broken], stream="us/n1", through_seq=1)

    assert await store.count_events() == 0
    assert await store.applied_positions() == {}


@pytest.mark.parametrize(
    ("stream", "through_seq", "message"),
    [
        ("us/n1", None, "stream and through_seq together"),
        (None, 3, "stream and through_seq together"),
        ("us-n1", 3, "'<region>/<node>'"),
        ("us/n1", -1, "through_seq: expected an integer"),
    ],
)
async def test_position_preconditions(
    store: DedupStore, stream: str | None, through_seq: int | None, message: str
) -> None:
    with pytest.raises(DedupRecordError, match=message):
        await store.apply([record("k", hlc=1)], stream=stream, through_seq=through_seq)
    assert await store.count_events() == 0


async def test_concurrent_applies_of_one_key_agree_on_one_winner(region: RegionConfig) -> None:
    """Eight writers race on each of 20 keys through two stores (separate pools, so separate
    connections and transactions). Whatever interleaving happens, each key ends with the minimum
    record as winner and all others as copies, and every reported outcome is one that was true
    at some moment: a record reported accepted was the winner then, and a reported winner is
    never later than the record it is reported for."""
    await truncate_shards(region)
    keys = [f"hot{i}" for i in range(20)]
    writers = [
        [
            record(
                key,
                hlc=100 - (writer * 7 + k) % 8,  # a different writer holds the minimum per key
                region=("us", "eu")[writer % 2],
                node=f"n{writer}",
                seq=k + 1,
                content=("a", "b")[writer % 3 == 0],
            )
            for k, key in enumerate(keys)
        ]
        for writer in range(8)
    ]
    async with (
        await DedupStore.open(region, max_size=4) as one,
        await DedupStore.open(region, max_size=4) as two,
    ):
        stores = [one, two]

        async def write(writer: int) -> list[list]:  # type: ignore[type-arg]
            store = stores[writer % 2]
            # Half of the writers go through the keys backwards: lock order must not matter.
            mine = writers[writer] if writer % 2 else list(reversed(writers[writer]))
            return [await store.apply([rec]) for rec in mine]

        outcomes = await asyncio.gather(*(write(w) for w in range(8)))

        for k, key in enumerate(keys):
            rivals = [writers[w][k] for w in range(8)]
            best = min(rivals, key=lambda r: r.winner_key)
            stored = await one.get_event("acme", key)
            assert stored is not None and stored.origin == best.origin
            assert await copies_of(one, key) == {r.origin for r in rivals} - {best.origin}

        for writer, results in enumerate(outcomes):
            for [result] in results:
                rec = next(r for r in writers[writer] if r.event_id == result.event_id)
                winner = WinnerKey(
                    result.winner_hlc, result.winner.region, result.winner.node, result.winner.seq
                )
                assert winner <= rec.winner_key
                assert (result.outcome is Outcome.ACCEPTED) == (result.winner == rec.origin)
                if rec.winner_key == min(
                    writers[w][keys.index(rec.event_id)].winner_key for w in range(8)
                ):
                    assert result.outcome is Outcome.ACCEPTED


async def test_concurrent_overlapping_batches_in_opposite_key_orders(region: RegionConfig) -> None:
    """Big batches sharing every key, fed in opposite orders: the claim statement locks in key
    order, so they queue instead of deadlocking, and the state equals a serial apply's."""
    await truncate_shards(region)
    forward = [record(f"k{i:03d}", hlc=i, node="n1", seq=i + 1, content="x") for i in range(300)]
    backward = [
        record(f"k{i:03d}", hlc=300 - i, node="n2", seq=i + 1, content="y")
        for i in reversed(range(300))
    ]
    async with await DedupStore.open(region) as one, await DedupStore.open(region) as two:
        for _ in range(3):
            await asyncio.gather(one.apply(forward), two.apply(backward), one.apply(backward))
        concurrent = await one.dump_digest_total()
    await truncate_shards(region)
    async with await DedupStore.open(region) as store:
        await store.apply(forward + backward)
        assert await store.dump_digest_total() == concurrent
        stored = await store.get_event("acme", "k299")
        assert stored is not None and stored.origin.node == "n2"
