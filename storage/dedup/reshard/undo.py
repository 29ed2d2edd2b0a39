"""Removing a copy from a new shard again (rollback before cleanup): the keys of one source shard
that the copy put on the target, in batches, with their copies.

Only keys the new ring places on the target and the old ring on the source are touched, so the
target's own keys (a shard both rings share, when shrinking) stay. The old ring is complete
until cleanup (copy leaves the source alone, dual-write writes the old shard first), so nothing
deleted here is the last copy of a key; the workflow refuses rollback once cleanup has begun.
"""

from __future__ import annotations

from typing import Any

from ledger.reshard_chunk import ChunkKey, DeleteChunk
from ledger.ring import shard_of
from storage.dedup.reshard.delete import delete_keys
from storage.dedup.reshard.scan import last_of, next_keys


async def undo_copy_chunk(
    target_pool: Any,
    *,
    from_ring: int,
    to_ring: int,
    source_shard: int,
    target_shard: int,
    after_key: ChunkKey | None,
    limit: int,
) -> DeleteChunk:
    """Delete from `target_shard` the next `limit` keys after `after_key` that a copy from
    `source_shard` put there; resume after the returned `last_key`.

    Requires source_shard != target_shard and limit >= 1."""
    if source_shard == target_shard:
        raise ValueError(f"expected two shards, got {source_shard} -> {target_shard}")

    def copied_here(tenant_id: str, event_id: str) -> bool:
        return (
            shard_of(tenant_id, event_id, from_ring) == source_shard
            and shard_of(tenant_id, event_id, to_ring) == target_shard
        )

    async with target_pool.acquire() as conn, conn.transaction():
        keys, done = await next_keys(conn, after_key, limit, copied_here)
        deleted, copies = await delete_keys(conn, keys)
    return DeleteChunk(last_key=last_of(keys, after_key), keys=deleted, copies=copies, done=done)
