"""A chunk's rows on one shard: whole rows, to copy them, and per-key states (hashes of the key
row, of its body as stored and of its copies), to compare them across shards without moving
bodies.

A state's hashes follow the geo fingerprints' scheme (storage/geo/fingerprint.py): the first
8 bytes of a SHA-256 under a domain string, so a chunk's fingerprint is their sum modulo 2**64
and does not depend on row order. Each row is encoded as the canonical dump encodes it
(storage/dedup/dump.encode_row), with a NULL map in front so NULL and empty differ. The body is
hashed as stored, in SQL: a hot body's or a warm blob's SHA-256, and a cold row's pack pointer
(part of the key row's columns), so verifying reads no pack.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.reshard_chunk import ChunkKey
from storage.dedup.dump import EVENT_NAMES, encode_row
from storage.geo.fingerprint import HASH_MODULUS

ROW_HASH_DOMAIN = b"geoledger.reshard-row.v1\x00"

# Every column of a key row, in the canonical dump's order.
EVENT_COLUMNS = tuple(EVENT_NAMES)
COPY_COLUMNS = ("tenant_id", "event_id", "region", "node", "seq", "hlc", "digest")
# Every column but the two body columns, which are hashed apart (body_sha256).
_STATE_COLUMNS = [c for c in EVENT_COLUMNS if c not in ("event", "warm_body")]

# The keys of a chunk as a relation, in the shards' collation (an unnested text is not "C").
CHUNK_KEYS = (
    'SELECT k.t COLLATE "C", k.e COLLATE "C" FROM unnest($1::text[], $2::text[]) AS k(t, e)'
)

SELECT_EVENTS = f"""
SELECT {", ".join(EVENT_COLUMNS)} FROM dedup_events
WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})
ORDER BY tenant_id, event_id
"""
SELECT_COPIES = f"""
SELECT {", ".join(COPY_COLUMNS)} FROM dedup_copies
WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})
ORDER BY tenant_id, event_id, region, node, seq
"""
_STATE_SELECT = f"""
SELECT {", ".join(_STATE_COLUMNS)}, sha256(coalesce(event, warm_body)) AS body_sha256
FROM dedup_events
"""
SELECT_EVENT_STATES = f"{_STATE_SELECT} WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})"
# Cleanup holds the old shard's key rows until it has deleted them: the dedup apply's claim
# (INSERT ... ON CONFLICT DO UPDATE) waits on the lock, so neither the row nor its copies change
# between the check against the new shard and the delete.
LOCK_EVENT_STATES = f"{SELECT_EVENT_STATES} FOR UPDATE"


@dataclass(frozen=True, slots=True)
class KeyState:
    """One key on one shard: hashes of its key row, its body as stored and its copies
    (`has_row` False: copies without a key row, which only a broken shard holds)."""

    row: int
    body: int
    copies: int = 0
    copy_count: int = 0
    has_row: bool = True


def row_hash(tag: bytes, values: Sequence[Any]) -> int:
    """The 8-byte hash of one row (see the module docstring)."""
    nulls = "".join("n" if value is None else "v" for value in values)
    encoded = encode_row(tag, [nulls, *(b"" if value is None else value for value in values)])
    return int.from_bytes(hashlib.sha256(ROW_HASH_DOMAIN + encoded).digest()[:8], "big")


def key_arrays(keys: Sequence[ChunkKey]) -> tuple[list[str], list[str]]:
    """The tenant and event id arrays CHUNK_KEYS unnests."""
    return [k[0] for k in keys], [k[1] for k in keys]


def states_of(event_rows: Sequence[Any], copy_rows: Sequence[Any]) -> dict[ChunkKey, KeyState]:
    """The state of each key of `event_rows` (SELECT_EVENT_STATES rows), with `copy_rows`
    (SELECT_COPIES rows) of those keys; a copy without its key row is a key of its own."""
    states: dict[ChunkKey, KeyState] = {}
    for row in event_rows:
        key = (row["tenant_id"], row["event_id"])
        columns = [row[c] for c in _STATE_COLUMNS]
        states[key] = KeyState(row_hash(b"E", columns), row_hash(b"B", [row["body_sha256"]]))
    for row in copy_rows:
        key = (row["tenant_id"], row["event_id"])
        state = states.get(key) or KeyState(0, 0, has_row=False)
        copied = row_hash(b"C", [row[c] for c in COPY_COLUMNS])
        states[key] = KeyState(
            state.row,
            state.body,
            (state.copies + copied) % HASH_MODULUS,
            state.copy_count + 1,
            state.has_row,
        )
    return states


async def chunk_states(
    conn: Any, keys: Sequence[ChunkKey], *, lock: bool = False
) -> dict[ChunkKey, KeyState]:
    """The states of `keys` on one shard (keys it does not hold are absent); with `lock`, its
    key rows are locked FOR UPDATE until the caller's transaction ends."""
    arrays = key_arrays(keys)
    events = await conn.fetch(LOCK_EVENT_STATES if lock else SELECT_EVENT_STATES, *arrays)
    copies = await conn.fetch(SELECT_COPIES, *arrays)
    return states_of(events, copies)
