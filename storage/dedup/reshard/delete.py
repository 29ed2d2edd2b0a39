"""Deleting a chunk's keys, with their copies, from one shard (cleanup and undo)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.reshard_chunk import ChunkKey
from storage.dedup.reshard.rows import CHUNK_KEYS, key_arrays

DELETE_COPIES = f"DELETE FROM dedup_copies WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})"
DELETE_EVENTS = f"DELETE FROM dedup_events WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})"


async def delete_keys(conn: Any, keys: Sequence[ChunkKey]) -> tuple[int, int]:
    """Delete `keys` and their copies in the caller's transaction; return (keys, copies)
    deleted."""
    if not keys:
        return 0, 0
    arrays = key_arrays(keys)
    copies = await conn.execute(DELETE_COPIES, *arrays)
    events = await conn.execute(DELETE_EVENTS, *arrays)
    return int(events.split()[-1]), int(copies.split()[-1])
