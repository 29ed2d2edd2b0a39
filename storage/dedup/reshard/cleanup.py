"""Deleting moved keys from an old shard after cutover, in batches, never the last copy of one.

Writes go to the new ring only by then, so a key's new shard may be ahead of its frozen old row.
A key is deleted from its old shard only when its shard on the new ring covers it
(compare.covers): a superset of its records, and when the winner is the same record, the same
winner row and body as stored. The two shards are different databases, so the check and the
delete cannot be one statement; the order makes them safe instead: in one transaction on the old
shard, the chunk's key rows are locked FOR UPDATE (the dedup apply's claim waits on that lock,
so neither a row nor its copies can change on the old shard until commit), then the new shards'
rows are read and compared, then only the covered keys are deleted. What the new shard holds
cannot go away meanwhile: only undo_copy_chunk deletes there, and rollback is refused once
cleanup has begun; what it gains meanwhile only adds records. A key not covered (a write the new
shard has not got, or lost, or a body stored otherwise) is kept and reported, never deleted. A
crash anywhere rolls the transaction back: nothing is deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from ledger.reshard_chunk import ChunkKey, DeleteChunk
from ledger.ring import shard_of
from storage.dedup.reshard.compare import covers
from storage.dedup.reshard.delete import delete_keys
from storage.dedup.reshard.rows import KeyState, chunk_states
from storage.dedup.reshard.scan import last_of, next_keys
from storage.faults import crash_point

CRASH_BEFORE_DELETE = "reshard.cleanup.before_delete"
"""Crash point: the chunk's keys were checked against the new shards, nothing deleted yet."""


async def cleanup_chunk(
    pool: Any,
    *,
    from_ring: int,
    to_ring: int,
    shard: int,
    after_key: ChunkKey | None,
    limit: int,
    target_pools: Mapping[int, Any],
) -> DeleteChunk:
    """Delete from old shard `shard` the next `limit` keys after `after_key` that a `to_ring` ring
    places on another shard, each only if that shard (its pool in `target_pools`) covers it;
    resume after the returned `last_key`. `from_ring` is the ring the keys were
    copied from (only for messages: which keys may go is the new ring's call).

    Requires a pool in `target_pools` for every shard of the new ring but `shard`, limit >= 1.
    """
    del from_ring  # the new ring alone decides where a key belongs now

    def placed_elsewhere(tenant_id: str, event_id: str) -> bool:
        return shard_of(tenant_id, event_id, to_ring) != shard

    async with pool.acquire() as conn, conn.transaction():
        keys, done = await next_keys(conn, after_key, limit, placed_elsewhere)
        held = await chunk_states(conn, keys, lock=True) if keys else {}
        covered = await _covered_on_targets(held, to_ring, target_pools)
        kept = tuple(k for k in keys if k not in covered)
        crash_point(CRASH_BEFORE_DELETE)
        deleted, copies = await delete_keys(conn, sorted(covered))
    return DeleteChunk(
        last_key=last_of(keys, after_key), keys=deleted, copies=copies, kept=kept, done=done
    )


async def _covered_on_targets(
    held: dict[ChunkKey, KeyState], to_ring: int, target_pools: Mapping[int, Any]
) -> set[ChunkKey]:
    """The keys of `held` whose shard on the new ring covers them."""
    by_target: dict[int, list[ChunkKey]] = defaultdict(list)
    for key in held:
        by_target[shard_of(*key, to_ring)].append(key)
    covered: set[ChunkKey] = set()
    for target, keys in by_target.items():
        async with target_pools[target].acquire() as conn:
            there = await chunk_states(conn, keys)
        covered.update(k for k in keys if covers(there.get(k), held[k]))
    return covered
