"""Comparing one chunk of a re-sharding on its old and its new shard (VDiff-like): per side the
keys and copies counted and order-independent fingerprints of key rows, copies and bodies as
stored; and, key by key, exactly which keys differ.

The source side is the chunk's keys as copy_chunk chose them (on the source shard, placed on the
target by the new ring); the target side every key of the range that came from the source shard
(its shard on the old ring), so a key on the target that the copy could not have put there, or
put on the wrong shard, is a mismatch too. Keys come from the shards, their hashes from SQL
(rows.py), so no body leaves its database.
"""

from __future__ import annotations

from typing import Any

from ledger.reshard_chunk import ChunkDiff, ChunkKey, ChunkSide
from ledger.ring import shard_of
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
    differing = sorted(k for k in source.keys() | target.keys() if source.get(k) != target.get(k))
    return ChunkDiff(
        source=_side(source),
        target=_side(target),
        mismatches=tuple(differing[:max_listed]),
        mismatch_count=len(differing),
    )


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


def _side(states: dict[ChunkKey, KeyState]) -> ChunkSide:
    return ChunkSide(
        keys=sum(1 for s in states.values() if s.has_row),
        copies=sum(s.copy_count for s in states.values()),
        key_rows=sum(s.row for s in states.values()) % HASH_MODULUS,
        copy_rows=sum(s.copies for s in states.values()) % HASH_MODULUS,
        bodies=sum(s.body for s in states.values()) % HASH_MODULUS,
    )
