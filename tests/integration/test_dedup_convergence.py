"""Invariant I3 on real shards: any order, any batching, any repetition of the same records gives
byte-identical dedup state, in regions with different numbers of shards, and that state is the
one the winner rule defines."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator

import pytest

from ledger.config import RegionConfig
from storage.dedup import Conflict, DedupRecord, DedupStore, Origin, migrate_region
from storage.dedup.dump import DUMP_DOMAIN, encode_row
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region, record, truncate_shards

pytestmark = pytest.mark.timeout(180)

STREAMS = [("us", "n1"), ("eu", "n1"), ("us", "n2")]
KEYS = 50
SEEDS = [1, 2, 3, 20260101]


def generate(rng: random.Random) -> list[DedupRecord]:
    """Records of 3 streams over KEYS keys: each stream's hlc strictly increases with its seq,
    from close starting points so that hlc ties across streams are common; most keys carry the
    same content everywhere (duplicates), some differ (conflicts)."""
    records = []
    for region, node in STREAMS:
        hlc = rng.randint(1, 4)
        for seq in range(1, 61):
            key = rng.randrange(KEYS)
            if seq > 1:
                hlc += rng.randint(1, 3)
            content = "v1" if key % 5 else rng.choice(["v1", "v2", "v3"])
            records.append(
                record(
                    f"ev{key:02d}",
                    tenant_id=("acme", "globex")[key % 2],
                    hlc=hlc,
                    region=region,
                    node=node,
                    seq=seq,
                    content=content,
                    accepted_at_ms=1_700_000_000_000 + hlc,
                )
            )
    return records


def schedule(rng: random.Random, records: list[DedupRecord]) -> list[list[DedupRecord]]:
    """Every record one to three times, shuffled, cut into batches of 1 to 40."""
    applied = [r for r in records for _ in range(rng.randint(1, 3))]
    rng.shuffle(applied)
    batches = []
    while applied:
        size = rng.randint(1, 40)
        batches.append(applied[:size])
        applied = applied[size:]
    return batches


def expected_state(records: list[DedupRecord]) -> tuple[str, list[tuple[str, str, Origin, Origin]]]:
    """The dump digest and conflicts the winner rule defines, computed without any database."""
    by_key: dict[tuple[str, str], list[DedupRecord]] = {}
    for r in records:
        by_key.setdefault((r.tenant_id, r.event_id), []).append(r)
    digest = hashlib.sha256(DUMP_DOMAIN)
    copies = []
    conflicts = []
    for key in sorted(by_key):
        rivals = sorted(by_key[key], key=lambda r: r.winner_key)
        w = rivals[0]
        digest.update(
            encode_row(
                b"E",
                [*key, w.hlc, w.region, w.node, w.seq, w.digest, w.event, w.accepted_at_ms],
            )
        )
        for loser in rivals[1:]:
            copies.append((*key, loser.region, loser.node, loser.seq, loser.hlc, loser.digest))
            if loser.digest != w.digest:
                conflicts.append((*key, w.origin, loser.origin))
    for row in sorted(copies):
        digest.update(encode_row(b"C", row))
    conflicts.sort(key=lambda c: (c[0], c[1], c[3].region, c[3].node, c[3].seq))
    return digest.hexdigest(), conflicts


def summarize(conflicts: list[Conflict]) -> list[tuple[str, str, Origin, Origin]]:
    return [(c.tenant_id, c.event_id, c.winner, c.loser) for c in conflicts]


@pytest.fixture(scope="module")
async def regions(running_stack: RunningStack) -> AsyncIterator[tuple[RegionConfig, RegionConfig]]:
    two = await fresh_region(running_stack, "dd_conv_a", shards=2)
    three = await fresh_region(running_stack, "dd_conv_b", shards=3)
    await asyncio.gather(migrate_region(two), migrate_region(three))
    yield two, three


@pytest.mark.parametrize("seed", SEEDS)
async def test_any_order_batching_and_repetition_converges(
    regions: tuple[RegionConfig, RegionConfig], seed: int
) -> None:
    rng = random.Random(seed)
    records = generate(rng)
    want_digest, want_conflicts = expected_state(records)
    assert want_conflicts, "the generator must produce conflicts for this test to mean anything"

    digests, conflicts = [], []
    for index, region in enumerate(regions):
        await truncate_shards(region)
        async with await DedupStore.open(region) as store:
            batches = schedule(rng, records)
            if index == 0:
                for batch in batches:
                    await store.apply(batch)
            else:
                # The second region applies three batches at a time, concurrently.
                for start in range(0, len(batches), 3):
                    await asyncio.gather(*(store.apply(b) for b in batches[start : start + 3]))
            digests.append(await store.dump_digest_total())
            conflicts.append(summarize(await store.conflicts(limit=10_000)))
            assert await store.count_events() == len({(r.tenant_id, r.event_id) for r in records})

    assert digests == [want_digest, want_digest]
    assert conflicts == [want_conflicts, want_conflicts]


async def test_per_shard_digests_differ_by_layout_but_not_by_order(
    regions: tuple[RegionConfig, RegionConfig],
) -> None:
    two, _ = regions
    records = generate(random.Random(7))
    per_shard = []
    for order in (records, list(reversed(records))):
        await truncate_shards(two)
        async with await DedupStore.open(two) as store:
            await store.apply(order)
            per_shard.append(await store.dump_digest())
    assert per_shard[0] == per_shard[1]
    assert sorted(per_shard[0]) == [0, 1] and per_shard[0][0] != per_shard[0][1]


async def test_the_digest_sees_a_one_byte_difference(
    regions: tuple[RegionConfig, RegionConfig],
) -> None:
    two, _ = regions
    await truncate_shards(two)
    async with await DedupStore.open(two) as store:
        await store.apply(generate(random.Random(8)))
        before = await store.dump_digest_total()
        changed = await store.pools.shards[0].execute(
            "UPDATE dedup_copies SET hlc = hlc + 1 WHERE ctid = "
            "(SELECT ctid FROM dedup_copies ORDER BY tenant_id, event_id, region, node, seq"
            " LIMIT 1)"
        )
        assert changed == "UPDATE 1"
        assert await store.dump_digest_total() != before
