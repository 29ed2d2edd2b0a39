"""Bringing the keys a copy found on the target in another state to the merge of both
(ledger.dedup_merge), inside copy_chunk's transaction on the target: the source's rows are in
the staging tables, the target's key rows locked. The merges are computed first and written
only if every key merges, so a chunk with a conflict writes nothing.
"""

from __future__ import annotations

from typing import Any

from ledger.dedup_merge import MergeConflict, MergeWrite, WinnerRowWrite, merge
from ledger.reshard_chunk import ChunkKey
from storage.dedup.errors import ReshardConflictError
from storage.dedup.reshard.rows import (
    CHUNK_KEYS,
    COPY_COLUMNS,
    EVENT_COLUMNS,
    RECORD_COLUMNS,
    chunk_records,
    key_arrays,
)

STAGED_EVENTS, STAGED_COPIES = "reshard_events", "reshard_copies"
"""copy_chunk's staging tables (temporary, shaped like dedup_events and dedup_copies)."""

_EVENTS = ", ".join(EVENT_COLUMNS)
_COPIES = ", ".join(COPY_COLUMNS)
# A winner row is rewritten by delete and insert (see _apply).
DELETE_ROWS = f"DELETE FROM dedup_events WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})"
INSERT_STAGED_ROWS = f"""
INSERT INTO dedup_events ({_EVENTS})
SELECT {_EVENTS} FROM {STAGED_EVENTS}
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


async def merge_keys(target: Any, keys: list[ChunkKey]) -> int:
    """Bring each of `keys` on the target (in the caller's transaction, its key rows locked) to
    the merge of its staged (source) and its target state; return how many changed. Raises
    ReshardConflictError naming the first ten keys that cannot be merged, before writing."""
    sources = await chunk_records(target, keys, (STAGED_EVENTS, STAGED_COPIES))
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
