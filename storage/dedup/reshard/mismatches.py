"""The full list of a verified chunk's mismatching keys, as an object in the region's store: a
ChunkDiff lists only the first few, an operator (or a repair) needs them all."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ledger.reshard_chunk import ChunkKey
from storage.objectstore import ObjectStore

MISMATCHES_PREFIX = "dedup-migrate"


def mismatches_key(migration_id: str, chunk: str) -> str:
    """Where the mismatches of one chunk of one migration are stored."""
    return f"{MISMATCHES_PREFIX}/{migration_id}/mismatches/{chunk}.jsonl"


async def write_mismatches(
    store: ObjectStore, migration_id: str, chunk: str, keys: Sequence[ChunkKey]
) -> str:
    """Store `keys` as JSON lines (`{"tenant_id": ..., "event_id": ...}` each, in the order
    given) under the chunk's key, replacing an earlier verify's list; return the key."""
    key = mismatches_key(migration_id, chunk)
    lines = (
        json.dumps({"tenant_id": tenant_id, "event_id": event_id}, ensure_ascii=False) + "\n"
        for tenant_id, event_id in keys
    )
    await store.put(key, "".join(lines).encode(), content_type="application/x-ndjson")
    return key
