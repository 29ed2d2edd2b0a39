"""Throttled runs of the data movers: chunk after chunk over one pair of shards (copy, verify,
undo) or one old shard (cleanup), at most `rate` keys a second, for at most `max_run_s`, telling
the caller after each chunk where the next one starts (the activity heartbeats it, so a run
killed mid-way resumes from its last chunk).

A run is bounded so that the workflow gets control back often: a new rate, a pause or a rollback
takes effect at the next run, within seconds, without cancelling anything mid-chunk.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ledger.reshard_chunk import ChunkDiff, ChunkKey
from ledger.ring import shard_of
from storage.dedup.reshard.cleanup import cleanup_chunk
from storage.dedup.reshard.copy import copy_chunk
from storage.dedup.reshard.mismatches import write_mismatches
from storage.dedup.reshard.scan import last_of, next_keys
from storage.dedup.reshard.undo import undo_copy_chunk
from storage.dedup.reshard.verify import verify_chunk
from storage.objectstore import ObjectStore

LISTED_PER_CHUNK = 1_000_000
"""Mismatching keys a verify chunk lists for the store's object: all of them, in practice."""


class _Chunk(Protocol):
    @property
    def last_key(self) -> ChunkKey | None: ...

    @property
    def keys(self) -> int: ...

    @property
    def done(self) -> bool: ...


_C = TypeVar("_C", bound=_Chunk)


@dataclass(frozen=True, slots=True)
class RunLimits:
    """At most `rate_keys_per_s` keys a second, `chunk_keys` per chunk, `max_run_s` per run."""

    rate_keys_per_s: float
    chunk_keys: int
    max_run_s: float

    @property
    def chunk_size(self) -> int:
        """Chunks no bigger than half a second's worth at the rate, so the throttle is smooth."""
        return max(1, min(self.chunk_keys, int(self.rate_keys_per_s / 2) or 1))


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A run over one pair or shard: where it stopped and the sums of its chunks' counts."""

    after_key: ChunkKey | None
    done: bool
    seconds: float
    totals: dict[str, int] = field(default_factory=dict)
    objects: list[str] = field(default_factory=list)


async def run_chunks(
    step: Callable[[ChunkKey | None, int], Awaitable[_C]],
    after_key: ChunkKey | None,
    limits: RunLimits,
    on_chunk: Callable[[_C], None],
) -> tuple[ChunkKey | None, bool, float]:
    """Call `step(after_key, size)` chunk after chunk until one is `done` or the run has lasted
    `max_run_s`, sleeping after each chunk so the run averages at most the rate; return where
    the next run starts, whether the walk is done, and the seconds it took."""
    started = time.monotonic()
    cursor = after_key
    while True:
        chunk_started = time.monotonic()
        chunk = await step(cursor, limits.chunk_size)
        cursor = chunk.last_key
        on_chunk(chunk)
        if chunk.done:
            return cursor, True, time.monotonic() - started
        owed = chunk.keys / limits.rate_keys_per_s - (time.monotonic() - chunk_started)
        if owed > 0:
            await asyncio.sleep(owed)
        if time.monotonic() - started >= limits.max_run_s:
            return cursor, False, time.monotonic() - started


@dataclass(frozen=True, slots=True)
class VerifiedChunk:
    """One verified chunk: the source keys it covered, and how the two sides compare."""

    last_key: ChunkKey | None
    keys: int
    done: bool
    diff: ChunkDiff


@dataclass(frozen=True, slots=True)
class PairPools:
    """The two shards of a pair and the rings the keys move between."""

    source_pool: Any
    target_pool: Any
    from_ring: int
    to_ring: int
    source_shard: int
    target_shard: int

    def mover_args(self) -> dict[str, int]:
        """The keyword arguments every mover of the pair takes."""
        return {
            "from_ring": self.from_ring,
            "to_ring": self.to_ring,
            "source_shard": self.source_shard,
            "target_shard": self.target_shard,
        }


def copy_step(pair: PairPools) -> Callable[[ChunkKey | None, int], Awaitable[Any]]:
    """One copy chunk of the pair (copy_chunk merges into what the target holds)."""

    async def step(after_key: ChunkKey | None, limit: int) -> Any:
        return await copy_chunk(
            pair.source_pool,
            pair.target_pool,
            after_key=after_key,
            limit=limit,
            **pair.mover_args(),
        )

    return step


def undo_step(pair: PairPools) -> Callable[[ChunkKey | None, int], Awaitable[Any]]:
    """One undo chunk: keys the pair's copy put on the target, deleted again."""

    async def step(after_key: ChunkKey | None, limit: int) -> Any:
        return await undo_copy_chunk(
            pair.target_pool, after_key=after_key, limit=limit, **pair.mover_args()
        )

    return step


def verify_step(
    pair: PairPools, settle_s: float
) -> Callable[[ChunkKey | None, int], Awaitable[VerifiedChunk]]:
    """One verify chunk: the next `limit` source keys that move to the target, compared on both
    sides. With `settle_s`, a chunk that is not clean is compared once more after that long:
    while writes go to both rings, a key written to one shard and not yet to the other is in
    flight, not a mismatch."""

    def moves(tenant_id: str, event_id: str) -> bool:
        return shard_of(tenant_id, event_id, pair.to_ring) == pair.target_shard

    async def step(after_key: ChunkKey | None, limit: int) -> VerifiedChunk:
        async with pair.source_pool.acquire() as conn:
            keys, done = await next_keys(conn, after_key, limit, moves)
        through = None if done else keys[-1]

        async def compare() -> ChunkDiff:
            return await verify_chunk(
                pair.source_pool,
                pair.target_pool,
                after_key=after_key,
                through_key=through,
                max_listed=LISTED_PER_CHUNK,
                **pair.mover_args(),
            )

        diff = await compare()
        if settle_s > 0 and not diff.clean:
            await asyncio.sleep(settle_s)
            diff = await compare()
        return VerifiedChunk(last_of(keys, after_key), len(keys), done, diff)

    return step


def chunk_name(kind: str, pair: PairPools, after_key: ChunkKey | None) -> str:
    """A stable name for the chunk starting after `after_key`, so a retried verify replaces its
    own list of mismatches rather than adding another."""
    start = hashlib.sha256(repr(after_key).encode()).hexdigest()[:16]
    return f"{kind}/{pair.source_shard}to{pair.target_shard}/{start}"


async def verify_run(
    pair: PairPools,
    store: ObjectStore,
    migration_id: str,
    kind: str,
    after_key: ChunkKey | None,
    limits: RunLimits,
    settle_s: float,
    on_chunk: Callable[[ChunkKey | None], None],
) -> RunOutcome:
    """Verify chunks of the pair; every chunk with mismatches has its full list stored."""
    totals = {"keys": 0, "mismatches": 0, "behind": 0, "ahead": 0}
    pending: list[tuple[ChunkKey | None, VerifiedChunk]] = []
    cursor = after_key
    step = verify_step(pair, settle_s)

    async def recorded(start: ChunkKey | None, limit: int) -> VerifiedChunk:
        chunk = await step(start, limit)
        pending.append((start, chunk))
        return chunk

    def counted(chunk: VerifiedChunk) -> None:
        totals["keys"] += chunk.keys
        totals["mismatches"] += chunk.diff.mismatch_count
        totals["behind"] += chunk.diff.behind
        totals["ahead"] += chunk.diff.ahead
        on_chunk(chunk.last_key)

    cursor, done, seconds = await run_chunks(recorded, cursor, limits, counted)
    objects = []
    for start, chunk in pending:
        if chunk.diff.mismatches:
            name = chunk_name(kind, pair, start)
            objects.append(await write_mismatches(store, migration_id, name, chunk.diff.mismatches))
    return RunOutcome(cursor, done, seconds, totals, objects)


async def cleanup_run(
    pool: Any,
    target_pools: Mapping[int, Any],
    *,
    from_ring: int,
    to_ring: int,
    shard: int,
    after_key: ChunkKey | None,
    limits: RunLimits,
    on_chunk: Callable[[ChunkKey | None], None],
) -> RunOutcome:
    """Delete moved keys from old shard `shard`, chunk by chunk, each only where the new ring
    covers it."""
    totals = {"keys": 0, "copies": 0, "kept": 0}

    async def step(start: ChunkKey | None, limit: int) -> Any:
        return await cleanup_chunk(
            pool,
            from_ring=from_ring,
            to_ring=to_ring,
            shard=shard,
            after_key=start,
            limit=limit,
            target_pools=target_pools,
        )

    def counted(chunk: Any) -> None:
        totals["keys"] += chunk.keys
        totals["copies"] += chunk.copies
        totals["kept"] += len(chunk.kept)
        on_chunk(chunk.last_key)

    cursor, done, seconds = await run_chunks(step, after_key, limits, counted)
    return RunOutcome(cursor, done, seconds, totals)
