"""Walking a shard's keys in primary-key order, keeping those a predicate wants (the shard a key
has on a ring is jump hash of the key, computed in Python: ledger.ring.shard_of, the function the
store routes with, so a chunk cannot disagree with routing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.reshard_chunk import ChunkKey

SCAN_BATCH = 5_000
"""Keys read per round trip while looking for a chunk's keys."""

SCAN_FROM_START = """
SELECT tenant_id, event_id FROM dedup_events
ORDER BY tenant_id, event_id
LIMIT $1
"""
SCAN_AFTER = """
SELECT tenant_id, event_id FROM dedup_events
WHERE (tenant_id, event_id) > ($2, $3)
ORDER BY tenant_id, event_id
LIMIT $1
"""


async def next_keys(
    conn: Any,
    after_key: ChunkKey | None,
    limit: int | None,
    wanted: Callable[[str, str], bool],
    through_key: ChunkKey | None = None,
) -> tuple[list[ChunkKey], bool]:
    """The next `limit` keys (None: all) after `after_key` (None: from the first) and up to
    `through_key` (None: the last) that `wanted` accepts, in key order, and whether the range
    has no more keys after the last one. Requires limit >= 1.

    Python compares str by code point, as the shards' "C" collation compares UTF-8 bytes."""
    if limit is not None and limit < 1:
        raise ValueError(f"expected a chunk of at least 1 key, got {limit}")
    found: list[ChunkKey] = []
    cursor = after_key
    while True:
        if cursor is None:
            rows = await conn.fetch(SCAN_FROM_START, SCAN_BATCH)
        else:
            rows = await conn.fetch(SCAN_AFTER, SCAN_BATCH, *cursor)
        for tenant_id, event_id in rows:
            if through_key is not None and (tenant_id, event_id) > through_key:
                return found, True
            if wanted(tenant_id, event_id):
                found.append((tenant_id, event_id))
                if len(found) == limit:
                    return found, False
        if len(rows) < SCAN_BATCH:
            return found, True
        cursor = (rows[-1]["tenant_id"], rows[-1]["event_id"])


def last_of(keys: list[ChunkKey], after_key: ChunkKey | None) -> ChunkKey | None:
    """Where the next chunk starts: after the last key found, or where this one started."""
    return keys[-1] if keys else after_key
