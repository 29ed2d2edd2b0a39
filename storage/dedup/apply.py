"""Applying a batch of records to one shard: one transaction, two statements, any batch size.

1. CLAIM inserts each key's earliest batch record as its winner, unless the key has one already,
   and returns the batch ordinals of every record it did not just make a winner. Its
   `ON CONFLICT DO UPDATE ... WHERE false` changes nothing but locks every existing winner row of
   the batch (PostgreSQL locks a conflicting row before evaluating the WHERE), in key order, so
   concurrent batches sharing keys queue on those locks rather than deadlock. A record CLAIM
   inserted is settled: its key had no winner, nothing else can touch the row before we commit,
   and the record is the earliest of the batch for its key. For a batch of new keys (ingest's
   usual case) that is every record, and CLAIM is the whole cost of the apply.
2. RESOLVE gets the records CLAIM did not settle (sent again, usually none) and, with every key of
   the batch locked by us, reads the winners as they are now (READ COMMITTED takes a fresh
   snapshot per statement, and every writer of those rows committed before we got the lock),
   promotes records that beat them, moves the displaced winners and every losing record into
   dedup_copies, and returns those records' outcomes. It also raises the stream's applied seq,
   when the caller names a stream. When CLAIM settled every record, ADVANCE_POSITION, that last
   step alone, takes its place: the number of statements stays the same for every batch.

Since each key's rows are written only while its winner row is locked, and the winner is the
minimum of everything applied, the final state is the same whatever the order and grouping of
applies: that is invariant I3. READ COMMITTED suffices because the row locks, not the snapshot,
serialize writers of a key; a stricter level would only add retries. Every batch takes its locks
in one statement and in key order, so two batches cannot deadlock on each other; a deadlock or
serialization failure (say, against an operator's hand-written transaction) still retries the
whole transaction a few times.

Both statements read the batch from arrays (`unnest`), with the text columns in the byte-wise
"C" collation of the tables, so the winner order is the same here as in ledger.order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from storage.dedup.errors import DedupError
from storage.dedup.models import ApplyResult, DedupRecord, Origin, Outcome


def _advance_position(stream: str, seq: str) -> str:
    """Raise the stream's applied seq (never lower it); nothing when the stream is NULL."""
    return f"""
    INSERT INTO applied_positions AS p (stream, seq)
    SELECT {stream}::text, {seq}::bigint
    WHERE {stream}::text IS NOT NULL
    ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, updated_at = now()
    WHERE excluded.seq > p.seq
"""


ADVANCE_POSITION = _advance_position("$1", "$2")

# The batch as rows: $1..$9 are the columns of _columns(), `ord` the 1-based position.
_BATCH_COLUMNS = """
    SELECT ord,
           tenant_id COLLATE "C" AS tenant_id, event_id COLLATE "C" AS event_id, hlc,
           region COLLATE "C" AS region, node COLLATE "C" AS node, seq, digest, event,
           accepted_at_ms
"""

CLAIM = f"""
WITH batch AS MATERIALIZED (
    {_BATCH_COLUMNS}
    FROM unnest(
        $1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
        $7::bytea[], $8::bytea[], $9::bigint[]
    ) WITH ORDINALITY
        AS b(tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms, ord)
),
claimed AS (
    INSERT INTO dedup_events AS e
        (tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms)
    SELECT DISTINCT ON (tenant_id, event_id)
        tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms
    FROM batch
    ORDER BY tenant_id, event_id, hlc, region, node, seq
    ON CONFLICT (tenant_id, event_id) DO UPDATE SET hlc = e.hlc WHERE false
    RETURNING e.tenant_id, e.event_id, e.region, e.node, e.seq
)
SELECT b.ord
FROM batch b
WHERE NOT EXISTS (
    SELECT 1 FROM claimed c
    WHERE (c.tenant_id, c.event_id, c.region, c.node, c.seq)
        = (b.tenant_id, b.event_id, b.region, b.node, b.seq)
)
"""

RESOLVE = f"""
WITH batch AS MATERIALIZED (
    {_BATCH_COLUMNS}
    FROM unnest(
        $1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
        $7::bigint[], $8::bytea[], $9::bytea[], $10::bigint[]
    ) AS b(ord, tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms)
),
cand AS (
    -- each key's earliest unsettled record
    SELECT DISTINCT ON (tenant_id, event_id) *
    FROM batch
    ORDER BY tenant_id, event_id, hlc, region, node, seq
),
judged AS (
    -- each key's candidate beside its winner before this statement (locked by CLAIM)
    SELECT c.tenant_id, c.event_id,
           (c.hlc, c.region, c.node, c.seq) < (w.hlc, w.region, w.node, w.seq) AS beats,
           c.hlc, c.region, c.node, c.seq, c.digest, c.event, c.accepted_at_ms,
           w.hlc AS w_hlc, w.region AS w_region, w.node AS w_node, w.seq AS w_seq,
           w.digest AS w_digest
    FROM cand c
    JOIN dedup_events w USING (tenant_id, event_id)
),
promoted AS (
    UPDATE dedup_events e
    SET hlc = j.hlc, region = j.region, node = j.node, seq = j.seq, digest = j.digest,
        event = j.event, accepted_at_ms = j.accepted_at_ms
    FROM judged j
    WHERE j.beats AND e.tenant_id = j.tenant_id AND e.event_id = j.event_id
),
final AS (
    -- each key's winner after this statement
    SELECT tenant_id, event_id,
           CASE WHEN beats THEN hlc ELSE w_hlc END AS hlc,
           CASE WHEN beats THEN region ELSE w_region END AS region,
           CASE WHEN beats THEN node ELSE w_node END AS node,
           CASE WHEN beats THEN seq ELSE w_seq END AS seq,
           CASE WHEN beats THEN digest ELSE w_digest END AS digest
    FROM judged
),
copied AS (
    -- the displaced winners, and every record that is not its key's winner now
    INSERT INTO dedup_copies (tenant_id, event_id, region, node, seq, hlc, digest)
    SELECT DISTINCT ON (tenant_id, event_id, region, node, seq)
        tenant_id, event_id, region, node, seq, hlc, digest
    FROM (
        SELECT tenant_id, event_id, w_region, w_node, w_seq, w_hlc, w_digest
        FROM judged
        WHERE beats
        UNION ALL
        SELECT b.tenant_id, b.event_id, b.region, b.node, b.seq, b.hlc, b.digest
        FROM batch b
        JOIN final f USING (tenant_id, event_id)
        WHERE (b.region, b.node, b.seq) <> (f.region, f.node, f.seq)
    ) AS losers (tenant_id, event_id, region, node, seq, hlc, digest)
    ORDER BY tenant_id, event_id, region, node, seq
    ON CONFLICT DO NOTHING
),
advanced AS ({_advance_position("$11", "$12")})
SELECT b.ord,
       (b.region, b.node, b.seq) = (f.region, f.node, f.seq) AS is_winner,
       b.digest = f.digest AS same_digest,
       f.region AS winner_region, f.node AS winner_node, f.seq AS winner_seq,
       f.hlc AS winner_hlc, f.digest AS winner_digest
FROM batch b
JOIN final f USING (tenant_id, event_id)
"""

MAX_ATTEMPTS = 5
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


@dataclass(frozen=True, slots=True)
class Position:
    """Applied through `seq` of WAL stream `stream` (`<region>/<node>`)."""

    stream: str
    seq: int


def _columns(records: Sequence[DedupRecord]) -> list[list[Any]]:
    return [
        [r.tenant_id for r in records],
        [r.event_id for r in records],
        [r.hlc for r in records],
        [r.region for r in records],
        [r.node for r in records],
        [r.seq for r in records],
        [r.digest for r in records],
        [r.event for r in records],
        [r.accepted_at_ms for r in records],
    ]


def _settled(record: DedupRecord) -> ApplyResult:
    """The result of a record CLAIM made its key's winner."""
    return ApplyResult(
        tenant_id=record.tenant_id,
        event_id=record.event_id,
        outcome=Outcome.ACCEPTED,
        winner=record.origin,
        winner_hlc=record.hlc,
        winner_digest=record.digest,
    )


def _resolved(record: DedupRecord, row: Any) -> ApplyResult:
    """The result of a record RESOLVE judged, from its row."""
    if row["is_winner"]:
        outcome = Outcome.ACCEPTED
    elif row["same_digest"]:
        outcome = Outcome.DUPLICATE
    else:
        outcome = Outcome.CONFLICT
    return ApplyResult(
        tenant_id=record.tenant_id,
        event_id=record.event_id,
        outcome=outcome,
        winner=Origin(row["winner_region"], row["winner_node"], int(row["winner_seq"])),
        winner_hlc=int(row["winner_hlc"]),
        winner_digest=bytes(row["winner_digest"]),
    )


async def _apply_once(
    conn: Any, records: Sequence[DedupRecord], position: Position | None
) -> list[ApplyResult]:
    # Ordinals are 1-based positions in `records`.
    unsettled: list[int] = []
    if records:
        unsettled = [int(row["ord"]) for row in await conn.fetch(CLAIM, *_columns(records))]
    pending = [records[ord - 1] for ord in unsettled]
    stream, seq = (position.stream, position.seq) if position is not None else (None, None)
    if unsettled:
        rows = await conn.fetch(RESOLVE, unsettled, *_columns(pending), stream, seq)
    else:
        # Nothing to judge: only the position. A statement of its own rather than RESOLVE with
        # empty arrays, which PostgreSQL would plan afresh on every call (its generic plan never
        # looks cheaper than a custom plan for no rows), a fixed ~0.5 ms.
        await conn.execute(ADVANCE_POSITION, stream, seq)
        rows = []
    resolved = {int(row["ord"]): row for row in rows}
    if len(resolved) != len(unsettled):
        # Every unsettled key's winner row is locked by CLAIM, so RESOLVE finds it; anything
        # else is a broken table, and the transaction must not commit half-judged.
        raise DedupError(f"apply: expected {len(unsettled)} resolved records, got {len(rows)}")
    return [
        _resolved(record, resolved[ord]) if ord in resolved else _settled(record)
        for ord, record in enumerate(records, 1)
    ]


async def apply_to_shard(
    pool: Any, records: Sequence[DedupRecord], position: Position | None
) -> list[ApplyResult]:
    """Apply `records` (all routed to this shard) and advance `position`, atomically.

    Returns one result per record, in order. Requires records that passed `DedupRecord.check`.
    Raises asyncpg errors as they come, after retrying deadlocks and serialization failures.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await _apply_once(conn, records, position)
        except _RETRYABLE:
            if attempt == MAX_ATTEMPTS:
                raise
            # Jitter so that two transactions that collided do not collide again in lock step.
            await asyncio.sleep(random.uniform(0.001, 0.01) * attempt)
    raise AssertionError("unreachable: the last attempt either returns or raises")
