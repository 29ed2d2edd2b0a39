"""Comparing one chunk of a re-sharding on its old and its new shard (VDiff-like): per side the
keys and copies counted and order-independent fingerprints of key rows, copies and bodies as
stored; and, key by key, how the new shard's state compares with the old one's (compare.py):
behind and ahead are counted (writes in flight explain them: the catch-up copy brings what is
behind, and what is ahead came from dual writes), mismatches are listed.

The source side is the chunk's keys as copy_chunk chose them (on the source shard, placed on the
target by the new ring); the target side every key of the range that came from the source shard
(its shard on the old ring), so a key on the target that the copy could not have put there (the
new ring places it on another shard) is a mismatch whatever its state. Keys come from the shards,
their hashes from SQL (rows.py), so no body leaves its database. Each side is read from one
snapshot, the source first: a record that reaches one shard before the other shows as behind or
ahead, never as a mismatch; a body moved between tiers on one shard before the other does show
as one, and such mismatches seen while writes were in flight are re-checked key by key with
recheck_keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ledger.reshard_chunk import ChunkDiff, ChunkKey, ChunkSide
from ledger.ring import shard_of
from storage.dedup.reshard.compare import KeyRelation, relation
from storage.dedup.reshard.rows import KeyState, chunk_states
from storage.dedup.reshard.scan import next_keys
from storage.geo.fingerprint import HASH_MODULUS

DEFAULT_LISTED = 100
"""Mismatching keys a ChunkDiff lists; the count is always exact."""


async def verify_chunk(
    source_pool: Any,
    target_pool: Any,
    *,
    from_ring: int,
    to_ring: int,
    source_shard: int,
    target_shard: int,
    after_key: ChunkKey | None,
    through_key: ChunkKey | None,
    max_listed: int = DEFAULT_LISTED,
) -> ChunkDiff:
    """Compare the keys after `after_key` up to `through_key` (None: to the end, for a chunk
    copy_chunk returned `done`) of a copy from `source_shard` to `target_shard`, listing at most
    `max_listed` mismatching keys. Requires max_listed >= 0."""
    if max_listed < 0:
        raise ValueError(f"expected max_listed >= 0, got {max_listed}")

    def from_source(tenant_id: str, event_id: str) -> bool:
        return shard_of(tenant_id, event_id, from_ring) == source_shard

    def moves_to_target(tenant_id: str, event_id: str) -> bool:
        return from_source(tenant_id, event_id) and (
            shard_of(tenant_id, event_id, to_ring) == target_shard
        )

    source = await _states(source_pool, after_key, through_key, moves_to_target)
    target = await _states(target_pool, after_key, through_key, from_source)
    relations = {
        key: relation(source.get(key), target.get(key))
        if shard_of(*key, to_ring) == target_shard
        else KeyRelation.MISMATCH
        for key in source.keys() | target.keys()
    }
    counts = Counter(relations.values())
    differing = sorted(k for k, r in relations.items() if r is KeyRelation.MISMATCH)
    return ChunkDiff(
        source=_side(source),
        target=_side(target),
        mismatches=tuple(differing[:max_listed]),
        mismatch_count=len(differing),
        behind=counts[KeyRelation.BEHIND],
        ahead=counts[KeyRelation.AHEAD],
    )


async def recheck_keys(
    source_pool: Any,
    target_pool: Any,
    keys: Sequence[ChunkKey],
    *,
    from_ring: int,
    to_ring: int,
) -> list[ChunkKey]:
    """The keys of `keys` (moved from the source to the target shard) that are still not equal
    on both, in key order: a mismatch verify_chunk saw while dual writes were in flight is
    settled once both shards hold the key alike. A key the two rings place on one shard never
    moves, so it is never settled. Which new shard a key belongs on is verify_chunk's check (it
    knows the target's index); this one compares states."""
    wanted = sorted(set(keys))
    source = await _key_states(source_pool, wanted)
    target = await _key_states(target_pool, wanted)
    return [
        key
        for key in wanted
        if source.get(key) != target.get(key)
        or shard_of(*key, from_ring) == shard_of(*key, to_ring)
    ]


async def _states(
    pool: Any, after_key: ChunkKey | None, through_key: ChunkKey | None, wanted: Any
) -> dict[ChunkKey, KeyState]:
    """The states of the range's wanted keys on one shard, from one snapshot."""
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        keys, _ = await next_keys(conn, after_key, None, wanted, through_key)
        return await chunk_states(conn, keys) if keys else {}


async def _key_states(pool: Any, keys: list[ChunkKey]) -> dict[ChunkKey, KeyState]:
    """The states of `keys` on one shard, from one snapshot."""
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        return await chunk_states(conn, keys) if keys else {}


def _side(states: dict[ChunkKey, KeyState]) -> ChunkSide:
    return ChunkSide(
        keys=sum(1 for s in states.values() if s.has_row),
        copies=sum(s.copy_count for s in states.values()),
        key_rows=sum(s.row for s in states.values()) % HASH_MODULUS,
        copy_rows=sum(s.copies for s in states.values()) % HASH_MODULUS,
        bodies=sum(s.body for s in states.values()) % HASH_MODULUS,
    )
