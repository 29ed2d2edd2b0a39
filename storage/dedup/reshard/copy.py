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
(ledger.dedup_merge: the union of their records, the earliest record's winner row). A record
told two ways (one stream position, another hlc or digest) cannot be merged: a
ReshardConflictError names the key, and the chunk writes nothing. A retried chunk writes nothing
twice, and a crash anywhere leaves nothing.

Which keys move is decided in Python, key by key (ledger.ring.shard_of, as storage/dedup/plan.py
does), on key columns only; bodies are read for the chosen keys alone. Measured on the embedded
PostgreSQL (2 cores, all shards on one server, a shared machine) by
tests/integration/test_reshard_movers.py, which prints it: 10,000-20,000 keys/s over runs, for
1,500 moving keys of 3,000 in chunks of 250 (a fifth with a duplicate copy, a thirteenth with a
conflict, bodies in all three tiers), hashing included.
"""

from __future__ import annotations

from typing import Any

from ledger.dedup_merge import MergeConflict, MergeWrite, WinnerRowWrite, merge
from ledger.reshard_chunk import ChunkKey, CopyChunk
from ledger.ring import shard_of
from storage.dedup.errors import ReshardConflictError
from storage.dedup.reshard.rows import (
    CHUNK_KEYS,
    COPY_COLUMNS,
    EVENT_COLUMNS,
    RECORD_COLUMNS,
    SELECT_COPIES,
    SELECT_EVENTS,
    chunk_records,
    key_arrays,
)
from storage.dedup.reshard.scan import last_of, next_keys
from storage.faults import crash_point

CRASH_BEFORE_INSERT = "reshard.copy.before_insert"
"""Crash point: the chunk is in the target's temporary tables, not yet inserted."""

STAGING_TABLES = ("reshard_events", "reshard_copies")
_EVENTS = ", ".join(EVENT_COLUMNS)
_COPIES = ", ".join(COPY_COLUMNS)
_COPY_ROW = ", ".join(f"{{0}}.{c}" for c in COPY_COLUMNS)
CREATE_STAGING = """
CREATE TEMPORARY TABLE reshard_events (LIKE dedup_events) ON COMMIT DROP;
CREATE TEMPORARY TABLE reshard_copies (LIKE dedup_copies) ON COMMIT DROP;
"""
# Inserts the keys the target lacks and returns them; locks the others (see the docstring).
INSERT_EVENTS = f"""
INSERT INTO dedup_events AS e ({_EVENTS})
SELECT {_EVENTS} FROM reshard_events
ORDER BY tenant_id, event_id
ON CONFLICT (tenant_id, event_id) DO UPDATE SET hlc = e.hlc WHERE false
RETURNING e.tenant_id, e.event_id
"""
# The keys whose state on the target is not the staged one, after INSERT_EVENTS ($1, $2: the
# keys it inserted): another key row; a copy the source lacks (or tells otherwise); a copy of
# the source the target lacks, on a key it held before (the keys inserted get theirs next).
NEEDS_MERGE = f"""
SELECT s.tenant_id, s.event_id FROM reshard_events s
JOIN dedup_events t USING (tenant_id, event_id)
WHERE ({", ".join(f"s.{c}" for c in EVENT_COLUMNS)})
    IS DISTINCT FROM ({", ".join(f"t.{c}" for c in EVENT_COLUMNS)})
UNION
SELECT t.tenant_id, t.event_id FROM dedup_copies t
JOIN reshard_events USING (tenant_id, event_id)
WHERE NOT EXISTS (
    SELECT FROM reshard_copies s WHERE ({_COPY_ROW.format("s")}) = ({_COPY_ROW.format("t")})
)
UNION
SELECT s.tenant_id, s.event_id FROM reshard_copies s
WHERE (s.tenant_id, s.event_id) NOT IN ({CHUNK_KEYS})
AND NOT EXISTS (
    SELECT FROM dedup_copies t WHERE ({_COPY_ROW.format("t")}) = ({_COPY_ROW.format("s")})
)
ORDER BY 1, 2
"""
INSERT_STAGED_COPIES = f"""
INSERT INTO dedup_copies ({_COPIES})
SELECT {_COPIES} FROM reshard_copies
WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})
"""
DELETE_ROWS = f"DELETE FROM dedup_events WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})"
INSERT_STAGED_ROWS = f"""
INSERT INTO dedup_events ({_EVENTS})
SELECT {_EVENTS} FROM reshard_events
WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})
ORDER BY tenant_id, event_id
"""
DELETE_COPY_ROWS = """
DELETE FROM dedup_copies WHERE (tenant_id, event_id, region, node, seq) IN (
    SELECT t COLLATE "C", e COLLATE "C", r COLLATE "C", n COLLATE "C", q
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS c(t, e, r, n, q)
)
"""
INSERT_COPY_ROWS = f"""
INSERT INTO dedup_copies ({_COPIES})
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                     $7::bytea[])
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
            "reshard_events", records=[tuple(r) for r in events], columns=EVENT_COLUMNS
        )
        await target.copy_records_to_table(
            "reshard_copies", records=[tuple(r) for r in copies], columns=COPY_COLUMNS
        )
        crash_point(CRASH_BEFORE_INSERT)
        # From here every key of the chunk is on the target, its row locked by us.
        inserted = [(r[0], r[1]) for r in await target.fetch(INSERT_EVENTS)]
        merging = [(r[0], r[1]) for r in await target.fetch(NEEDS_MERGE, *key_arrays(inserted))]
        # A key new to the target takes the source's copies (unless the target held some).
        new = sorted(set(inserted).difference(merging))
        if new:
            await target.execute(INSERT_STAGED_COPIES, *key_arrays(new))
        merged = await _merge(target, merging) if merging else 0
    return len(inserted), merged


async def _merge(target: Any, keys: list[ChunkKey]) -> int:
    """Bring each of `keys` on the target to the merge of its staged (source) and its target
    state; return how many changed. Raises ReshardConflictError naming the first ten keys that
    cannot be merged, before writing anything."""
    sources = await chunk_records(target, keys, STAGING_TABLES)
    targets = await chunk_records(target, keys)
    writes: dict[ChunkKey, MergeWrite] = {}
    conflicts: list[ChunkKey] = []
    for key in keys:
        result = merge(sources.get(key), targets.get(key))
        if isinstance(result, MergeConflict):
            conflicts.append(key)
        elif not result.nothing:
            writes[key] = result
    if conflicts:
        raise ReshardConflictError(conflicts[:10])
    await _apply(target, writes)
    return len(writes)


async def _apply(target: Any, writes: dict[ChunkKey, MergeWrite]) -> None:
    """Write what the merges ask for. A winner row is rewritten by delete and insert: an UPDATE
    that changes the winner fires the trigger that makes a new winner hot (migration 0006), but
    the row comes as the source stores it, in whatever tier."""
    gone = [
        (*key, record)
        for key, write in sorted(writes.items())
        for record in sorted(write.delete_copies, key=lambda r: r.name)
    ]
    if gone:
        await target.execute(DELETE_COPY_ROWS, *_columns(gone, ("region", "node", "seq")))
    # A row the merge does not keep is the source's (the staged one): only the source can hold
    # a winner the target lacks, or hold it otherwise stored.
    rewritten = sorted(k for k, w in writes.items() if w.winner_row is not WinnerRowWrite.KEEP)
    if rewritten:
        await target.execute(DELETE_ROWS, *key_arrays(rewritten))
        await target.execute(INSERT_STAGED_ROWS, *key_arrays(rewritten))
    added = [
        (*key, record)
        for key, write in sorted(writes.items())
        for record in sorted(write.insert_copies, key=lambda r: r.name)
    ]
    if added:
        await target.execute(INSERT_COPY_ROWS, *_columns(added, RECORD_COLUMNS))


def _columns(rows: list[tuple[Any, ...]], fields: tuple[str, ...]) -> list[list[Any]]:
    """Column arrays of (tenant_id, event_id, record) rows: the key, then the record's `fields`."""
    return [
        [row[0] for row in rows],
        [row[1] for row in rows],
        *([getattr(row[2], field) for row in rows] for field in fields),
    ]
