"""`publish_tiles`: the log published to the region's object store under `audit/tlog/` in the
C2SP tlog-tiles layout (ledger/tlog_tiles.py), so anyone can fetch proofs without our API.

Only the tiles the previously published checkpoint lacked (or held narrower) are written, and
the checkpoint last: a reader that fetches the checkpoint finds every tile it needs.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from ledger.checkpoint import parse_checkpoint
from ledger.signed_note import split_note
from ledger.tlog_tiles import Tile, entry_bundle, tiles_of
from storage.audit.errors import AuditError, LogInconsistent
from storage.faults import crash_point
from storage.objectstore import ObjectNotFound, ObjectStore

TLOG_PREFIX = "audit/tlog/"
CHECKPOINT_KEY = f"{TLOG_PREFIX}checkpoint"

CRASH_BEFORE_CHECKPOINT = "audit-tiles-written"
"""Crash point: the new tiles and entry bundles are written, the checkpoint naming them is not."""

SELECT_CHECKPOINT_OF_SIZE = """
SELECT note FROM audit_checkpoints WHERE size = $1 ORDER BY batch DESC LIMIT 1
"""
SELECT_LEVEL_NODES = """
SELECT hash FROM audit_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx
"""
SELECT_ENTRIES = "SELECT leaf FROM audit_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx"


async def publish_tiles(control_db: Any, store: ObjectStore, upto_size: int) -> int:
    """Publish the tiles, entry bundles and checkpoint of the log at `upto_size` leaves (a size
    some checkpoint has); returns the objects written. Publishing a size at or below the one
    already published writes nothing. Raises AuditError when no checkpoint has that size."""
    published = await _published_size(store)
    if upto_size <= published:
        return 0
    async with control_db.acquire() as conn:
        note = await conn.fetchval(SELECT_CHECKPOINT_OF_SIZE, upto_size)
        if note is None:
            raise AuditError(f"expected a checkpoint of size {upto_size}, found none")
        written = 0
        for level, tiles in groupby(tiles_of(upto_size, published), key=lambda t: t.level):
            written += await _publish_level(conn, store, level, list(tiles))
    crash_point(CRASH_BEFORE_CHECKPOINT)
    await store.put(CHECKPOINT_KEY, note.encode(), content_type="text/plain; charset=utf-8")
    return written + 1


async def _publish_level(conn: Any, store: ObjectStore, level: int, tiles: list[Tile]) -> int:
    first, last = tiles[0], tiles[-1]
    begin, end = first.first_node, last.first_node + last.width
    # One query per level: the tiles of a level are consecutive.
    hashes = [
        bytes(r["hash"]) for r in await conn.fetch(SELECT_LEVEL_NODES, first.node_level, begin, end)
    ]
    if len(hashes) != end - begin:
        raise LogInconsistent(
            f"expected {end - begin} stored nodes at level {first.node_level} from {begin}, "
            f"got {len(hashes)}"
        )
    leaves = (
        [] if level else [bytes(r["leaf"]) for r in await conn.fetch(SELECT_ENTRIES, begin, end)]
    )
    for tile in tiles:
        offset = tile.first_node - begin
        await store.put(TLOG_PREFIX + tile.path(), b"".join(hashes[offset : offset + tile.width]))
        if level == 0:
            bundle = entry_bundle(leaves[offset : offset + tile.width])
            await store.put(TLOG_PREFIX + tile.entries_path(), bundle)
    return len(tiles) * (2 if level == 0 else 1)


async def _published_size(store: ObjectStore) -> int:
    try:
        note = (await store.get(CHECKPOINT_KEY)).decode()
    except ObjectNotFound:
        return 0
    text, _ = split_note(note)
    return parse_checkpoint(text).size
