"""Applying a batch of records to one shard: one transaction, three statements, any batch size.

1. STAGE_AND_CLAIM copies the batch into the connection's staging table (arrays, one round trip)
   and inserts each key's earliest batch record as its winner, unless the key has one already. Its
   `ON CONFLICT DO UPDATE ... WHERE false` changes nothing but locks every existing winner row of
   the batch (PostgreSQL locks a conflicting row before evaluating the WHERE), in key order, so
   concurrent batches sharing keys queue on those locks rather than deadlock.
2. RESOLVE, with every key of the batch locked by us, reads the winners as they are now (READ
   COMMITTED takes a fresh snapshot per statement, and every writer of those rows committed
   before we got the lock), promotes batch records that beat them, moves the displaced winners and
   every losing batch record into dedup_copies, and returns each staged record's outcome.
3. ADVANCE_POSITION raises the stream's applied seq, when the caller names a stream.

Since each key's rows are written only while its winner row is locked, and the winner is the
minimum of everything applied, the final state is the same whatever the order and grouping of
applies: that is invariant I3. READ COMMITTED suffices because the row locks, not the snapshot,
serialize writers of a key; a stricter level would only add retries. Every batch takes its locks
in one statement and in key order, so two batches cannot deadlock on each other; a deadlock or
serialization failure (say, against an operator's hand-written transaction) still retries the
whole transaction a few times.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from storage.dedup.models import ApplyResult, DedupRecord, Origin, Outcome

STAGE_AND_CLAIM = """
WITH staged AS (
    INSERT INTO pg_temp.dedup_staging
        (ord, tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms)
    SELECT ord, tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms
    FROM unnest(
        $1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
        $7::bytea[], $8::bytea[], $9::bigint[]
    ) WITH ORDINALITY
        AS batch(tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms, ord)
    RETURNING *
)
INSERT INTO dedup_events AS e
    (tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms)
SELECT DISTINCT ON (tenant_id, event_id)
    tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms
FROM staged
ORDER BY tenant_id, event_id, hlc, region, node, seq
ON CONFLICT (tenant_id, event_id) DO UPDATE SET hlc = e.hlc WHERE false
"""

RESOLVE = """
WITH cand AS (
    -- each key's earliest record in the batch
    SELECT DISTINCT ON (tenant_id, event_id) *
    FROM pg_temp.dedup_staging
    ORDER BY tenant_id, event_id, hlc, region, node, seq
),
cur AS (
    -- each key's winner before this statement (locked by STAGE_AND_CLAIM)
    SELECT e.tenant_id, e.event_id, e.hlc, e.region, e.node, e.seq, e.digest
    FROM dedup_events e
    JOIN cand c USING (tenant_id, event_id)
),
beaten AS (
    SELECT cur.*
    FROM cur
    JOIN cand c USING (tenant_id, event_id)
    WHERE (c.hlc, c.region, c.node, c.seq) < (cur.hlc, cur.region, cur.node, cur.seq)
),
promoted AS (
    UPDATE dedup_events e
    SET hlc = c.hlc, region = c.region, node = c.node, seq = c.seq, digest = c.digest,
        event = c.event, accepted_at_ms = c.accepted_at_ms
    FROM cand c
    JOIN beaten b USING (tenant_id, event_id)
    WHERE e.tenant_id = c.tenant_id AND e.event_id = c.event_id
),
final AS (
    -- each key's winner after this statement
    SELECT c.tenant_id, c.event_id, c.hlc, c.region, c.node, c.seq, c.digest
    FROM cand c
    JOIN beaten b USING (tenant_id, event_id)
    UNION ALL
    SELECT cur.*
    FROM cur
    WHERE NOT EXISTS (
        SELECT 1 FROM beaten b WHERE b.tenant_id = cur.tenant_id AND b.event_id = cur.event_id
    )
),
copied AS (
    INSERT INTO dedup_copies (tenant_id, event_id, region, node, seq, hlc, digest)
    SELECT DISTINCT ON (tenant_id, event_id, region, node, seq)
        tenant_id, event_id, region, node, seq, hlc, digest
    FROM (
        SELECT tenant_id, event_id, region, node, seq, hlc, digest FROM beaten
        UNION ALL
        SELECT s.tenant_id, s.event_id, s.region, s.node, s.seq, s.hlc, s.digest
        FROM pg_temp.dedup_staging s
        JOIN final f USING (tenant_id, event_id)
        WHERE (s.region, s.node, s.seq) <> (f.region, f.node, f.seq)
    ) AS losers
    ORDER BY tenant_id, event_id, region, node, seq
    ON CONFLICT DO NOTHING
)
SELECT s.ord,
       (s.region, s.node, s.seq) = (f.region, f.node, f.seq) AS is_winner,
       s.digest = f.digest AS same_digest,
       f.region AS winner_region, f.node AS winner_node, f.seq AS winner_seq,
       f.hlc AS winner_hlc, f.digest AS winner_digest
FROM pg_temp.dedup_staging s
JOIN final f USING (tenant_id, event_id)
ORDER BY s.ord
"""

ADVANCE_POSITION = """
INSERT INTO applied_positions AS p (stream, seq) VALUES ($1, $2)
ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, updated_at = now()
WHERE excluded.seq > p.seq
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


def _result(record: DedupRecord, row: Any) -> ApplyResult:
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
                rows: list[Any] = []
                if records:
                    await conn.execute(STAGE_AND_CLAIM, *_columns(records))
                    rows = await conn.fetch(RESOLVE)
                if position is not None:
                    await conn.execute(ADVANCE_POSITION, position.stream, position.seq)
        except _RETRYABLE:
            if attempt == MAX_ATTEMPTS:
                raise
            # Jitter so that two transactions that collided do not collide again in lock step.
            await asyncio.sleep(random.uniform(0.001, 0.01) * attempt)
            continue
        # RESOLVE returns rows by staging ordinal, 1-based, one per record.
        return [_result(records[int(row["ord"]) - 1], row) for row in rows]
    raise AssertionError("unreachable: the last attempt either returns or raises")
