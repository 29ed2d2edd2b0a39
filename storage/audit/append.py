"""`append_batch`: the enriched backlog joins the log and a signed checkpoint closes the batch,
all in one transaction, so a crash at any point leaves either the whole batch or none of it.

The head row (`audit_log`) is locked FOR UPDATE first: two appenders serialize on it, and the
second sees what the first committed (its checkpoint, if it closed the same batch; its indexes
otherwise). The cost is O(batch + log n): the compact range is the log's right edge, and only
the perfect nodes the new leaves complete are written.
"""

from __future__ import annotations

from typing import Any

from ledger.audit_models import AnchoredBatch, StoredCheckpoint
from ledger.checkpoint import Checkpoint
from ledger.merkle import CompactRange
from storage.audit.batch_plan import PendingSegment, plan_batch
from storage.audit.checkpoints import (
    INSERT_CHECKPOINT,
    SELECT_CHECKPOINT,
    CheckpointSigner,
    checkpoint_from_row,
)
from storage.audit.errors import BatchOutOfOrder, LogInconsistent
from storage.faults import crash_point

CRASH_BEFORE_COMMIT = "audit-append-uncommitted"
"""Crash point: the batch's indexes, nodes, log head and checkpoint are written in the open
transaction, which has not committed."""
CRASH_AFTER_COMMIT = "audit-append-committed"
"""Crash point: the batch is committed, the task has not returned (its tiles unpublished)."""

LOCK_LOG = "SELECT size, compact_range FROM audit_log WHERE id = 1 FOR UPDATE"
SELECT_LATEST_BATCH = "SELECT max(batch) FROM audit_checkpoints"
SELECT_PENDING = """
SELECT stream, first_seq, last_seq, records FROM audit_segments
WHERE appended_at IS NULL ORDER BY stream, first_seq
"""
# Per stream, its newest appended segment: a backward scan of the primary key from the stream's
# end passes only its unappended segments before finding it.
SELECT_APPENDED_THROUGH = """
SELECT s.stream, (
    SELECT a.last_seq FROM audit_segments a
    WHERE a.stream = s.stream AND a.appended_at IS NOT NULL
    ORDER BY a.first_seq DESC LIMIT 1
) AS last_seq
FROM unnest($1::text[]) AS s(stream)
"""
SELECT_LEAF_HASHES = """
SELECT l.leaf_hash FROM audit_leaves l
JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS c(stream, first_seq,
    last_seq, position)
  ON l.stream = c.stream AND l.seq BETWEEN c.first_seq AND c.last_seq
ORDER BY c.position, l.seq
"""
SET_LEAF_INDEXES = """
UPDATE audit_leaves l SET idx = c.first_index + (l.seq - c.first_seq)
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
    AS c(stream, first_seq, last_seq, first_index)
WHERE l.stream = c.stream AND l.seq BETWEEN c.first_seq AND c.last_seq
"""
SET_SEGMENTS_APPENDED = """
UPDATE audit_segments s SET first_index = c.first_index, appended_at = now()
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS c(stream, first_seq, first_index)
WHERE s.stream = c.stream AND s.first_seq = c.first_seq
"""
UPDATE_LOG = "UPDATE audit_log SET size = $1, compact_range = $2, updated_at = now() WHERE id = 1"
NODE_COLUMNS = ("level", "idx", "hash")
# A stored batch described again: the size before it, and the segments it appended.
SELECT_PREVIOUS_SIZE = """
SELECT size FROM audit_checkpoints WHERE batch < $1 ORDER BY batch DESC LIMIT 1
"""
COUNT_SEGMENTS_IN = """
SELECT count(*) FROM audit_segments WHERE first_index >= $1 AND first_index < $2
"""


async def append_batch(
    control_db: Any, *, batch: int, max_leaves: int, signer: CheckpointSigner
) -> AnchoredBatch:
    """Append up to `max_leaves` enriched leaves (whole segments, in `plan_batch` order) and
    store the checkpoint of the new size, signed by `signer`, as batch `batch`.

    Idempotent: when `batch` is stored already it is returned unchanged. A batch with nothing to
    append still stores a checkpoint (of the unchanged size), so each batch number has one.
    Raises BatchOutOfOrder for a batch below the latest that is not stored, LogInconsistent when
    a segment's leaf rows are not all there.
    """
    async with control_db.acquire() as conn, conn.transaction():
        head = await conn.fetchrow(LOCK_LOG)
        # Read under the lock: a concurrent appender of this batch has committed by now.
        existing = await conn.fetchrow(SELECT_CHECKPOINT, batch)
        if existing is not None:
            return await _anchored(conn, checkpoint_from_row(existing))
        latest = await conn.fetchval(SELECT_LATEST_BATCH)
        if latest is not None and batch <= latest:
            raise BatchOutOfOrder(f"expected a batch above {latest}, got {batch}")
        tree = (
            CompactRange.empty()
            if head["compact_range"] is None
            else CompactRange.from_bytes(bytes(head["compact_range"]))
        )
        if tree.size != head["size"]:
            raise LogInconsistent(
                f"expected the compact range of {head['size']} leaves, got {tree.size}"
            )
        old_size = tree.size
        segments = await _planned_segments(conn, max_leaves)
        if segments:
            await _append(conn, tree, segments)
        root = tree.root()
        note = signer(Checkpoint(signer.origin, tree.size, root).body())
        await conn.execute(INSERT_CHECKPOINT, batch, tree.size, root, note)
        crash_point(CRASH_BEFORE_COMMIT)
    crash_point(CRASH_AFTER_COMMIT)
    return AnchoredBatch(
        batch=batch,
        old_size=old_size,
        size=tree.size,
        root_hex=root.hex(),
        segments=len(segments),
    )


async def _planned_segments(conn: Any, max_leaves: int) -> list[PendingSegment]:
    pending = [
        PendingSegment(r["stream"], r["first_seq"], r["last_seq"], r["records"])
        for r in await conn.fetch(SELECT_PENDING)
    ]
    streams = sorted({segment.stream for segment in pending})
    through = {
        r["stream"]: r["last_seq"]
        for r in await conn.fetch(SELECT_APPENDED_THROUGH, streams)
        if r["last_seq"] is not None
    }
    return plan_batch(pending, through, max_leaves)


async def _append(conn: Any, tree: CompactRange, segments: list[PendingSegment]) -> None:
    streams = [s.stream for s in segments]
    first_seqs = [s.first_seq for s in segments]
    last_seqs = [s.last_seq for s in segments]
    hashes = [
        bytes(r["leaf_hash"])
        for r in await conn.fetch(SELECT_LEAF_HASHES, streams, first_seqs, last_seqs)
    ]
    expected = sum(s.records for s in segments)
    if len(hashes) != expected:
        raise LogInconsistent(
            f"expected {expected} leaf rows for {len(segments)} segments, got {len(hashes)}"
        )
    first_indexes = []
    next_index = tree.size
    for segment in segments:
        first_indexes.append(next_index)
        next_index += segment.records
    nodes = tree.extend(hashes)
    await conn.execute(SET_LEAF_INDEXES, streams, first_seqs, last_seqs, first_indexes)
    await conn.execute(SET_SEGMENTS_APPENDED, streams, first_seqs, first_indexes)
    # COPY: a batch completes about two nodes per leaf, thousands of rows per batch.
    await conn.copy_records_to_table(
        "audit_nodes",
        records=[(level, index, digest) for (level, index), digest in nodes],
        columns=NODE_COLUMNS,
    )
    await conn.execute(UPDATE_LOG, tree.size, tree.to_bytes())


async def _anchored(conn: Any, checkpoint: StoredCheckpoint) -> AnchoredBatch:
    previous = await conn.fetchval(SELECT_PREVIOUS_SIZE, checkpoint.batch)
    segments = await conn.fetchval(COUNT_SEGMENTS_IN, previous or 0, checkpoint.size)
    return AnchoredBatch(
        batch=checkpoint.batch,
        old_size=previous or 0,
        size=checkpoint.size,
        root_hex=checkpoint.root_hex,
        segments=segments,
    )
