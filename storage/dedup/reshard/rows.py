"""A chunk's rows on one shard: whole rows, to copy them; per-key states (hashes of the key
row, of its body as stored and of its copies, and the key's record set), to compare them across
shards without moving bodies; and per-key records (ledger.dedup_merge.KeyOnShard), to merge them.

A state's hashes follow the geo fingerprints' scheme (storage/geo/fingerprint.py): the first
8 bytes of a SHA-256 under a domain string, so a chunk's fingerprint is their sum modulo 2**64
and does not depend on row order. Each row is encoded as the canonical dump encodes it
(storage/dedup/dump.encode_row), with a NULL map in front so NULL and empty differ. The body is
hashed as stored, in SQL: a hot body's or a warm blob's SHA-256, and a cold row's pack pointer
(part of the key row's columns), so verifying reads no pack. A record (the winner's or a copy)
is hashed by its record columns alone, so the winner's record and the same record as a copy
on another shard hash alike: a key's record set is a set of those hashes.

The queries read the dedup tables, or tables shaped like them (copy_chunk's staging tables).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.dedup_merge import KeyOnShard, KeyRecord
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

EVENTS_TABLE, COPIES_TABLE = "dedup_events", "dedup_copies"
# A record's columns, the same in a key row and a copy row.
RECORD_COLUMNS = ("region", "node", "seq", "hlc", "digest")

SELECT_EVENTS = f"""
SELECT {", ".join(EVENT_COLUMNS)} FROM dedup_events
WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})
ORDER BY tenant_id, event_id
"""


def select_copies(table: str = COPIES_TABLE) -> str:
    """The copy rows of the keys CHUNK_KEYS unnests, from `table`, in key order."""
    return f"""
SELECT {", ".join(COPY_COLUMNS)} FROM {table}
WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})
ORDER BY tenant_id, event_id, region, node, seq
"""


def select_event_states(table: str = EVENTS_TABLE, *, lock: bool = False) -> str:
    """The key rows of the keys CHUNK_KEYS unnests, from `table`, with their bodies hashed as
    stored instead of read; with `lock`, FOR UPDATE, locked in key order as the dedup apply's
    claim locks them, so the two queue on a shared key rather than deadlock."""
    select = f"""
SELECT {", ".join(_STATE_COLUMNS)}, sha256(coalesce(event, warm_body)) AS body_sha256
FROM {table}
WHERE (tenant_id, event_id) IN ({CHUNK_KEYS})
"""
    return f"{select}ORDER BY tenant_id, event_id FOR UPDATE" if lock else select


SELECT_COPIES = select_copies()
SELECT_EVENT_STATES = select_event_states()
# Cleanup holds the old shard's key rows until it has deleted them: the dedup apply's claim
# (INSERT ... ON CONFLICT DO UPDATE) waits on the lock, so neither the row nor its copies change
# between the check against the new shard and the delete.
LOCK_EVENT_STATES = select_event_states(lock=True)


@dataclass(frozen=True, slots=True)
class KeyState:
    """One key on one shard: hashes of its key row, its body as stored and its copies, its
    `winner`'s record hash and its `records` (the winner's record and the copies, hashed).
    `has_row` False: copies without a key row, which only a broken shard holds (winner 0)."""

    row: int
    body: int
    copies: int = 0
    copy_count: int = 0
    has_row: bool = True
    winner: int = 0
    records: frozenset[int] = frozenset()


def row_hash(tag: bytes, values: Sequence[Any]) -> int:
    """The 8-byte hash of one row (see the module docstring)."""
    nulls = "".join("n" if value is None else "v" for value in values)
    encoded = encode_row(tag, [nulls, *(b"" if value is None else value for value in values)])
    return int.from_bytes(hashlib.sha256(ROW_HASH_DOMAIN + encoded).digest()[:8], "big")


def key_arrays(keys: Sequence[ChunkKey]) -> tuple[list[str], list[str]]:
    """The tenant and event id arrays CHUNK_KEYS unnests."""
    return [k[0] for k in keys], [k[1] for k in keys]


def record_hash(row: Any) -> int:
    """The 8-byte hash of the record a key row or a copy row holds (its RECORD_COLUMNS)."""
    return row_hash(b"R", [row[c] for c in RECORD_COLUMNS])


def states_of(event_rows: Sequence[Any], copy_rows: Sequence[Any]) -> dict[ChunkKey, KeyState]:
    """The state of each key of `event_rows` (select_event_states rows), with `copy_rows`
    (select_copies rows) of those keys; a copy without its key row is a key of its own."""
    states: dict[ChunkKey, KeyState] = {}
    for row in event_rows:
        key = (row["tenant_id"], row["event_id"])
        winner = record_hash(row)
        states[key] = KeyState(*_row_identity(row), winner=winner, records=frozenset({winner}))
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
            state.winner,
            state.records | {record_hash(row)},
        )
    return states


def records_of(event_rows: Sequence[Any], copy_rows: Sequence[Any]) -> dict[ChunkKey, KeyOnShard]:
    """Each key of `event_rows` and `copy_rows` (as for states_of) as ledger.dedup_merge merges
    it: its records, the winner row standing for itself by its row and body hashes."""
    winners = {(r["tenant_id"], r["event_id"]): r for r in event_rows}
    copies: dict[ChunkKey, set[KeyRecord]] = {key: set() for key in winners}
    for row in copy_rows:
        copies.setdefault((row["tenant_id"], row["event_id"]), set()).add(_record(row))
    return {
        key: KeyOnShard(
            None if key not in winners else _record(winners[key]),
            None if key not in winners else _row_identity(winners[key]),
            frozenset(held),
        )
        for key, held in copies.items()
    }


def _record(row: Any) -> KeyRecord:
    return KeyRecord(*(row[c] for c in RECORD_COLUMNS))


def _row_identity(row: Any) -> tuple[int, int]:
    """The hashes of a key row's columns and of its body as stored (KeyState.row, .body)."""
    columns = [row[c] for c in _STATE_COLUMNS]
    return row_hash(b"E", columns), row_hash(b"B", [row["body_sha256"]])


async def chunk_states(
    conn: Any, keys: Sequence[ChunkKey], *, lock: bool = False
) -> dict[ChunkKey, KeyState]:
    """The states of `keys` on one shard (keys it does not hold are absent); with `lock`, its
    key rows are locked FOR UPDATE until the caller's transaction ends."""
    arrays = key_arrays(keys)
    events = await conn.fetch(LOCK_EVENT_STATES if lock else SELECT_EVENT_STATES, *arrays)
    copies = await conn.fetch(SELECT_COPIES, *arrays)
    return states_of(events, copies)


async def chunk_records(
    conn: Any, keys: Sequence[ChunkKey], tables: tuple[str, str] = (EVENTS_TABLE, COPIES_TABLE)
) -> dict[ChunkKey, KeyOnShard]:
    """The records of `keys` in `tables` (key rows, copies) of one shard, as records_of."""
    arrays = key_arrays(keys)
    events = await conn.fetch(select_event_states(tables[0]), *arrays)
    copies = await conn.fetch(select_copies(tables[1]), *arrays)
    return records_of(events, copies)
