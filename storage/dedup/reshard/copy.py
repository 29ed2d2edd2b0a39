"""Copying one chunk of keys from an old shard to the shard the new ring places them on, merging
each with what the target holds already: the catch-up copy after dual-write began is the same
function, run again over the whole source ring.

The chunk is the next `limit` keys of the source (primary-key order) whose shard on the new ring
is the target, read from one snapshot with their dedup_copies rows and their bodies as stored
(hot, warm blob, or cold pointer: a cold row keeps pointing at its pack, which the region's store
keeps). On the target, in one transaction, the rows go through COPY into temporary tables; then
one INSERT in key order inserts the keys the target lacks and locks the key rows it holds (ON
CONFLICT DO UPDATE ... WHERE false, as the dedup apply's claim does, so the two queue on a shared
key in one order rather than deadlock; the apply writes a key's copies only while it holds that
row, so from then on nothing changes the chunk's keys on the target until commit). A key new to
the target gets its copies; a key the target holds in another state (behind: written after it
was copied; ahead: dual writes that reached the target) is brought to the merge of both
(ledger.dedup_merge, merging.py: the union of their records, the earliest record's winner row).
A record told two ways (one stream position, another hlc or digest) cannot be merged: a
ReshardConflictError names the key, and the chunk writes nothing. A retried chunk writes nothing
twice, and a crash anywhere leaves nothing.

Which keys move is decided in Python, key by key (ledger.ring.shard_of, as storage/dedup/plan.py
does), on key columns only; bodies are read for the chosen keys alone. Measured on the embedded
PostgreSQL (2 cores, all shards on one server, a shared machine) by
tests/integration/test_reshard_movers.py, which prints it: 10,000-20,000 keys/s over runs, for
1,500 moving keys of 3,000 in chunks of 250 (a fifth with a duplicate copy, a thirteenth with a
conflict, bodies in all three tiers), hashing included. Looking for keys to merge costs one
query per chunk; side by side with the copy that only inserted (12 rounds of 3,000 moving keys,
8 runs each, on a machine other tests were loading) the median rate was 11,700 keys/s against
12,600, within the runs' spread.
"""

from __future__ import annotations

from typing import Any

from ledger.reshard_chunk import ChunkKey, CopyChunk
from ledger.ring import shard_of
from storage.dedup.reshard.merging import STAGED_COPIES, STAGED_EVENTS, merge_keys
from storage.dedup.reshard.rows import (
    CHUNK_KEYS,
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
_COPY_ROW = ", ".join(f"{{0}}.{c}" for c in COPY_COLUMNS)
CREATE_STAGING = f"""
CREATE TEMPORARY TABLE {STAGED_EVENTS} (LIKE dedup_events) ON COMMIT DROP;
CREATE TEMPORARY TABLE {STAGED_COPIES} (LIKE dedup_copies) ON COMMIT DROP;
"""
# Inserts the keys the target lacks and returns them; locks the others (see the docstring).
INSERT_EVENTS = f"""
INSERT INTO dedup_events AS e ({_EVENTS})
SELECT {_EVENTS} FROM {STAGED_EVENTS}
ORDER BY tenant_id, event_id
ON CONFLICT (tenant_id, event_id) DO UPDATE SET hlc = e.hlc WHERE false
RETURNING e.tenant_id, e.event_id
"""
# The keys whose state on the target is not the staged one, after INSERT_EVENTS ($1, $2: the
# keys it inserted): another key row; a copy the source lacks (or tells otherwise); a copy of
# the source the target lacks, on a key it held before (the keys inserted get theirs next).
NEEDS_MERGE = f"""
SELECT s.tenant_id, s.event_id FROM {STAGED_EVENTS} s
JOIN dedup_events t USING (tenant_id, event_id)
WHERE ({", ".join(f"s.{c}" for c in EVENT_COLUMNS)})
    IS DISTINCT FROM ({", ".join(f"t.{c}" for c in EVENT_COLUMNS)})
UNION
SELECT t.tenant_id, t.event_id FROM dedup_copies t
JOIN {STAGED_EVENTS} USING (tenant_id, event_id)
WHERE NOT EXISTS (
    SELECT FROM {STAGED_COPIES} s WHERE ({_COPY_ROW.format("s")}) = ({_COPY_ROW.format("t")})
)
UNION
SELECT s.tenant_id, s.event_id FROM {STAGED_COPIES} s
WHERE (s.tenant_id, s.event_id) NOT IN ({CHUNK_KEYS})
AND NOT EXISTS (
    SELECT FROM dedup_copies t WHERE ({_COPY_ROW.format("t")}) = ({_COPY_ROW.format("s")})
)
ORDER BY 1, 2
"""
INSERT_STAGED_COPIES = f"""
INSERT INTO dedup_copies ({_COPIES})
SELECT {_COPIES} FROM {STAGED_COPIES}
WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})
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

    Requires source_shard != target_shard and limit >= 1. Raises ReshardConflictError when a
    key's records on the two shards cannot be merged; nothing is written then.
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
    written, merged = await _write(target_pool, events, copies) if keys else (0, 0)
    return CopyChunk(
        last_key=last_of(keys, after_key),
        keys=len(keys),
        copies=len(copies),
        done=done,
        written=written,
        merged=merged,
    )


async def _write(target_pool: Any, events: list[Any], copies: list[Any]) -> tuple[int, int]:
    """Stage the rows through COPY, insert the keys the target lacks, merge those it holds
    otherwise; return how many key rows were inserted and how many keys a merge changed."""
    async with target_pool.acquire() as target, target.transaction():
        await target.execute(CREATE_STAGING)
        await target.copy_records_to_table(
            STAGED_EVENTS, records=[tuple(r) for r in events], columns=EVENT_COLUMNS
        )
        await target.copy_records_to_table(
            STAGED_COPIES, records=[tuple(r) for r in copies], columns=COPY_COLUMNS
        )
        crash_point(CRASH_BEFORE_INSERT)
        # From here every key of the chunk is on the target, its row locked by us.
        inserted = [(r[0], r[1]) for r in await target.fetch(INSERT_EVENTS)]
        merging = [(r[0], r[1]) for r in await target.fetch(NEEDS_MERGE, *key_arrays(inserted))]
        # A key new to the target takes the source's copies (unless the target held some).
        new = sorted(set(inserted).difference(merging))
        if new:
            await target.execute(INSERT_STAGED_COPIES, *key_arrays(new))
        merged = await merge_keys(target, merging) if merging else 0
    return len(inserted), merged
