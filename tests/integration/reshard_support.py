"""Helpers of the re-sharding mover tests (no tests here): a region on a 2-shard ring with four
shard databases, filled with real signed records in all three body tiers, duplicates and
conflicts; the writes ingest makes to the old ring after a copy; each mover run chunk by chunk
to the end; and the region's canonical dumps."""

from __future__ import annotations

import json
import sys
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

from ledger.config import RegionConfig
from ledger.migration_plan import moving_shards
from ledger.reshard_chunk import ChunkKey, CopyChunk, DeleteChunk
from ledger.ring import shard_of
from ledger.tier_policy import TierPolicy
from storage.dedup import DedupRecord, DedupStore
from storage.dedup.dump import merged_digest
from storage.dedup.reshard import cleanup_chunk, copy_chunk, undo_copy_chunk
from storage.objectstore import open_object_store
from storage.tiering.dictionaries import DictionaryStore
from storage.tiering.reader import TieredBodies
from storage.tiering.tenant_policies import TenantPolicies
from tests.conftest import RunningStack
from tests.integration.test_migrate_plan import region_with_ring
from tests.integration.tiering_support import make_cold, make_warm, signed_record, stored_record
from tests.support.tenants import tenant

FROM_RING, TO_RING = 2, 4
MAX_BODY = 1024 * 1024


async def ring_region(running_stack: RunningStack, prefix: str) -> RegionConfig:
    """A fresh region routed on a FROM_RING ring with TO_RING migrated shard databases."""
    return await region_with_ring(running_stack, prefix, FROM_RING, TO_RING)


def history(keys: int) -> list[DedupRecord]:
    """`keys` winners of two tenants (stream us/n1); every 5th key duplicated from us/n2 later,
    every 13th contradicted from us/n3 later (a conflict)."""
    owners = [tenant(f"rs-a-{uuid.uuid4().hex[:6]}"), tenant(f"rs-b-{uuid.uuid4().hex[:6]}")]
    records = []
    for i in range(keys):
        owner = owners[i % 2]
        first = signed_record(owner, f"evt-{i:05d}", seq=i + 1)
        records.append(first)
        if i % 5 == 0:
            records.append(replace(first, hlc=first.hlc + 100_000, node="n2", seq=i + 1))
        if i % 13 == 0:
            other = signed_record(owner, first.event_id, seq=i + 1, note="other")
            records.append(replace(other, hlc=first.hlc + 200_000, node="n3", seq=i + 1))
    return records


async def populate(store: DedupStore, region: RegionConfig, keys: int) -> None:
    """Apply history(keys), then demote every 7th winner to warm and every 11th (not 7th) to
    cold, in packs of at most 50 bodies per tenant and shard."""
    records = history(keys)
    for start in range(0, len(records), 1000):
        await store.apply(records[start : start + 1000])
    winners = [r for r in records if r.node == "n1"]
    cold: dict[tuple[int, str], list[DedupRecord]] = defaultdict(list)
    for i, record in enumerate(winners):
        shard = store.route.read_shard(record.tenant_id, record.event_id)
        if i % 7 == 0:
            await make_warm(store.pools.shards[shard], record)
        elif i % 11 == 0:
            cold[(shard, record.tenant_id)].append(record)
    objects = open_object_store(region.object_store)
    for (shard, _), held in cold.items():
        for start in range(0, len(held), 50):
            await make_cold(store.pools.shards[shard], objects, held[start : start + 50])


@dataclass(frozen=True)
class LaterWrites:
    """The keys of write_later's writes, by kind."""

    new: set[ChunkKey]
    duplicated: set[ChunkKey]
    overtaken: set[ChunkKey]


async def later_records(
    store: DedupStore, count: int, nodes: tuple[str, str, str] = ("n4", "n5", "n6")
) -> list[DedupRecord]:
    """Records ingest might write after a copy, from three streams of us (`nodes`, default
    n4, n5, n6): a later duplicate (n4) of `count` hot keys the new ring moves; an earlier
    record (n5) of `count` others, which takes over their winner row; `count` new keys (n6)."""
    moving_hot = [
        ((tenant_id, event_id), shard)
        for shard in range(FROM_RING)
        for tenant_id, event_id in await store.pools.shards[shard].fetch(
            "SELECT tenant_id, event_id FROM dedup_events WHERE body_tier = 0 ORDER BY 1, 2"
        )
        if shard_of(tenant_id, event_id, TO_RING) != shard
    ]
    assert len(moving_hot) >= 2 * count
    records = []
    for i, (key, shard) in enumerate(moving_hot[: 2 * count]):
        winner = await stored_record(store.pools.shards[shard], *key)
        if i < count:
            records.append(replace(winner, hlc=winner.hlc + 50_000, node=nodes[0], seq=i + 1))
        else:
            records.append(replace(winner, hlc=winner.hlc - 1, node=nodes[1], seq=i + 1))
    owners = sorted({key[0] for key, _ in moving_hot})
    for i in range(count):
        owner = tenant(owners[i % len(owners)])
        fresh = signed_record(owner, f"late-{nodes[2]}-{i:05d}", seq=i + 1)
        records.append(replace(fresh, node=nodes[2]))
    return records


async def write_later(store: DedupStore, count: int) -> LaterWrites:
    """Apply later_records(count) to the old ring, as ingest writes before dual-write, then
    demote the earlier records that took over to warm on their old shard."""
    records = await later_records(store, count)
    await store.apply(records)
    keys: dict[str, set[ChunkKey]] = defaultdict(set)
    for record in records:
        keys[record.node].add((record.tenant_id, record.event_id))
        if record.node == "n5":
            shard = shard_of(record.tenant_id, record.event_id, FROM_RING)
            await make_warm(store.pools.shards[shard], record)
    return LaterWrites(new=keys["n6"], duplicated=keys["n4"], overtaken=keys["n5"])


def bodies(region: RegionConfig, store: DedupStore) -> TieredBodies:
    """The tiered body reader the dumps read warm and cold bodies through."""
    objects = open_object_store(region.object_store)
    policies = TenantPolicies(TierPolicy(), {}, store.pools.control)
    return TieredBodies(objects, DictionaryStore(objects, 4), policies, MAX_BODY, 60)


async def dump(region: RegionConfig, store: DedupStore, shards: Sequence[int]) -> str:
    """The canonical dump digest of `shards` merged (a ring: range(n))."""
    pools = [store.pools.shards[s] for s in shards]
    return await merged_digest(pools, bodies(region, store))


Copied = tuple[int, int, ChunkKey | None, CopyChunk]
"""A copy chunk run: source, target, the key it started after, what it returned."""

Chunk = TypeVar("Chunk", CopyChunk, DeleteChunk)


async def until_done(
    step: Callable[[ChunkKey | None], Awaitable[Chunk]],
) -> list[tuple[ChunkKey | None, Chunk]]:
    """Run `step` from the first key, each time after the key the last run returned, until a
    run is done; every run with the key it started after."""
    runs: list[tuple[ChunkKey | None, Chunk]] = []
    after: ChunkKey | None = None
    while True:
        chunk = await step(after)
        runs.append((after, chunk))
        if chunk.done:
            return runs
        after = chunk.last_key


def copy_step(
    store: DedupStore, source: int, target: int, limit: int
) -> Callable[[ChunkKey | None], Awaitable[CopyChunk]]:
    """One copy chunk of `limit` keys from `source` to `target`, after a given key."""
    return lambda after: copy_chunk(
        store.pools.shards[source],
        store.pools.shards[target],
        from_ring=FROM_RING,
        to_ring=TO_RING,
        source_shard=source,
        target_shard=target,
        after_key=after,
        limit=limit,
    )


async def copy_everything(store: DedupStore, limit: int) -> list[Copied]:
    """Copy every moving key, chunk by chunk, for every (source, target) pair of the plan."""
    sources, targets = moving_shards(FROM_RING, TO_RING)
    return [
        (source, target, after, chunk)
        for source in sources
        for target in targets
        for after, chunk in await until_done(copy_step(store, source, target, limit))
    ]


async def clean_everything(store: DedupStore, limit: int) -> list[DeleteChunk]:
    """Clean every old shard up, chunk by chunk."""
    targets = dict(enumerate(store.pools.shards[:TO_RING]))
    runs = []
    for shard in range(FROM_RING):
        step = partial(
            _cleanup_after,
            store.pools.shards[shard],
            from_ring=FROM_RING,
            to_ring=TO_RING,
            shard=shard,
            limit=limit,
            target_pools=targets,
        )
        runs += [chunk for _, chunk in await until_done(step)]
    return runs


async def undo_everything(store: DedupStore, limit: int) -> list[DeleteChunk]:
    """Undo every copy, chunk by chunk."""
    sources, targets = moving_shards(FROM_RING, TO_RING)
    runs = []
    for source in sources:
        for target in targets:
            step = partial(
                _undo_after,
                store.pools.shards[target],
                from_ring=FROM_RING,
                to_ring=TO_RING,
                source_shard=source,
                target_shard=target,
                limit=limit,
            )
            runs += [chunk for _, chunk in await until_done(step)]
    return runs


async def _cleanup_after(pool: Any, after: ChunkKey | None, **arguments: Any) -> DeleteChunk:
    return await cleanup_chunk(pool, after_key=after, **arguments)


async def _undo_after(pool: Any, after: ChunkKey | None, **arguments: Any) -> DeleteChunk:
    return await undo_copy_chunk(pool, after_key=after, **arguments)


async def keys_of(pool: Any) -> set[ChunkKey]:
    """Every key a shard holds (key rows and copies)."""
    rows = await pool.fetch(
        "SELECT tenant_id, event_id FROM dedup_events "
        "UNION SELECT tenant_id, event_id FROM dedup_copies"
    )
    return {(r["tenant_id"], r["event_id"]) for r in rows}


def crash_command(region: RegionConfig, mover: str, limit: int) -> list[str]:
    """The command line of a process that runs one `mover` chunk (copy: source 0 -> target 2;
    cleanup: shard 0) from the start (tests/integration/reshard_crash_main.py)."""
    arguments = {"shards": list(region.shard_dsns), "mover": mover, "limit": limit}
    return [sys.executable, "-m", "tests.integration.reshard_crash_main", json.dumps(arguments)]
