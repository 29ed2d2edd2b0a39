"""Copying one chunk of keys from an old shard to the shard the new ring places them on.

The chunk is the next `limit` keys of the source (primary-key order) whose shard on the new ring
is the target, read from one snapshot with their dedup_copies rows and their bodies as stored
(hot, warm blob, or cold pointer: a cold row keeps pointing at its pack, which the region's store
keeps). On the target, in one transaction, the rows go through COPY into temporary tables, then
INSERT ... ON CONFLICT DO NOTHING: a retried chunk writes nothing twice, and a crash between the
two steps leaves nothing. A key (or copy) already there must be the same row; one that differs
is a ReshardConflictError naming it, and the chunk writes nothing.

Which keys move is decided in Python, key by key (ledger.ring.shard_of, as storage/dedup/plan.py
does), on key columns only; bodies are read for the chosen keys alone. Measured on the embedded
PostgreSQL (2 cores, all shards on one server, a shared machine) by
tests/integration/test_reshard_movers.py, which prints it: 10,000-20,000 keys/s over runs, for
1,500 moving keys of 3,000 in chunks of 250 (a fifth with a duplicate copy, a thirteenth with a
conflict, bodies in all three tiers), hashing included.
"""

from __future__ import annotations

from typing import Any

from ledger.reshard_chunk import ChunkKey, CopyChunk
from ledger.ring import shard_of
from storage.dedup.errors import ReshardConflictError
from storage.dedup.reshard.rows import (
    COPY_COLUMNS,
    EVENT_COLUMNS,
    SELECT_COPIES,
    SELECT_EVENTS,
    key_arrays,
)
from storage.dedup.reshard.scan import last_of, next_keys
from storage.faults import crash_point

CRASH_BEFORE_INSERT = "reshard.copy.before_insert"
"""Crash point: the chunk is in the target's temporary tables, not yet inserted."""

_EVENTS = ", ".join(EVENT_COLUMNS)
_COPIES = ", ".join(COPY_COLUMNS)
CREATE_STAGING = """
CREATE TEMPORARY TABLE reshard_events (LIKE dedup_events) ON COMMIT DROP;
CREATE TEMPORARY TABLE reshard_copies (LIKE dedup_copies) ON COMMIT DROP;
"""
INSERT_EVENTS = f"""
INSERT INTO dedup_events ({_EVENTS})
SELECT {_EVENTS} FROM reshard_events
ON CONFLICT DO NOTHING
"""
INSERT_COPIES = f"""
INSERT INTO dedup_copies ({_COPIES})
SELECT {_COPIES} FROM reshard_copies
ON CONFLICT DO NOTHING
"""
# After the inserts every staged key is on the target: a row that differs was there before.
DIFFERING_EVENTS = f"""
SELECT s.tenant_id, s.event_id FROM reshard_events s
JOIN dedup_events t USING (tenant_id, event_id)
WHERE ({", ".join(f"s.{c}" for c in EVENT_COLUMNS)})
    IS DISTINCT FROM ({", ".join(f"t.{c}" for c in EVENT_COLUMNS)})
UNION
SELECT s.tenant_id, s.event_id FROM reshard_copies s
JOIN dedup_copies t USING (tenant_id, event_id, region, node, seq)
WHERE (s.hlc, s.digest) IS DISTINCT FROM (t.hlc, t.digest)
ORDER BY 1, 2
LIMIT 10
"""


async def copy_chunk(
    source_pool: Any,
    target_pool: Any,
    *,
    from_ring: int,
    to_ring: int,
    source_shard: int,
    target_shard: int,
    after_key: ChunkKey | None,
    limit: int,
) -> CopyChunk:
    """Copy the next `limit` keys after `after_key` of `source_shard` that a `to_ring` ring places
    on `target_shard`, with their copies, into the target. Resume with the returned `last_key`.

    Requires source_shard != target_shard and limit >= 1. Raises ReshardConflictError when the
    target holds one of the keys (or copies) with a different row; nothing is written then.
    """
    if source_shard == target_shard:
        raise ValueError(f"expected two shards, got {source_shard} -> {target_shard}")

    def moves_to_target(tenant_id: str, event_id: str) -> bool:
        return shard_of(tenant_id, event_id, to_ring) == target_shard

    # One snapshot of the source: a key's row and its copies are read as of one instant.
    async with (
        source_pool.acquire() as source,
        source.transaction(isolation="repeatable_read", readonly=True),
    ):
        keys, done = await next_keys(source, after_key, limit, moves_to_target)
        events = await source.fetch(SELECT_EVENTS, *key_arrays(keys)) if keys else []
        copies = await source.fetch(SELECT_COPIES, *key_arrays(keys)) if keys else []
    written = await _write(target_pool, events, copies) if keys else 0
    return CopyChunk(
        last_key=last_of(keys, after_key),
        keys=len(keys),
        copies=len(copies),
        done=done,
        written=written,
    )


async def _write(target_pool: Any, events: list[Any], copies: list[Any]) -> int:
    """Stage the rows through COPY, insert what is not there yet, refuse rows that differ;
    return how many key rows were inserted."""
    async with target_pool.acquire() as target, target.transaction():
        await target.execute(CREATE_STAGING)
        await target.copy_records_to_table(
            "reshard_events", records=[tuple(r) for r in events], columns=EVENT_COLUMNS
        )
        await target.copy_records_to_table(
            "reshard_copies", records=[tuple(r) for r in copies], columns=COPY_COLUMNS
        )
        crash_point(CRASH_BEFORE_INSERT)
        status = await target.execute(INSERT_EVENTS)
        await target.execute(INSERT_COPIES)
        differing = await target.fetch(DIFFERING_EVENTS)
        if differing:
            raise ReshardConflictError([(r[0], r[1]) for r in differing])
    return int(status.split()[-1])
