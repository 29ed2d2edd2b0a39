"""Proofs from the stored log: every proof element is a fold of stored perfect nodes
(`merkle.*_proof_nodes` names them), fetched in one query; nothing is rebuilt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.audit_models import StoredCheckpoint
from ledger.merkle import NodeId, consistency_proof_nodes, fold_right, inclusion_proof_nodes
from storage.audit.checkpoints import (
    SELECT_CHECKPOINT,
    SELECT_LATEST_CHECKPOINT,
    checkpoint_from_row,
)
from storage.audit.errors import AuditError, LogInconsistent

SELECT_NODES = """
SELECT n.level, n.idx, n.hash FROM audit_nodes n
JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx
"""
# An event's first leaf in the log: a retried or conflicting submission of one event id has
# leaves of its own, later; the first is the one its acknowledgement stands on.
SELECT_EVENT_LEAF = """
SELECT leaf, idx FROM audit_leaves
WHERE tenant_id = $1 AND event_id = $2 AND idx IS NOT NULL
ORDER BY idx LIMIT 1
"""
SELECT_RECORD_LEAF = """
SELECT leaf, idx FROM audit_leaves WHERE stream = $1 AND seq = $2 AND idx IS NOT NULL
"""
SELECT_RECORD_INDEX = "SELECT idx FROM audit_leaves WHERE stream = $1 AND seq = $2"
SELECT_LOG_SIZE = "SELECT size FROM audit_log WHERE id = 1"


@dataclass(frozen=True)
class ReceiptParts:
    """What the log holds for a receipt: the leaf encoding, its index, its RFC 9162 inclusion
    proof, and the checkpoint the proof leads to."""

    leaf: bytes
    index: int
    proof: list[bytes]
    checkpoint: StoredCheckpoint


async def inclusion_receipt_parts(
    control_db: Any, tenant: str, event_id: str, *, batch: int | None = None
) -> ReceiptParts | None:
    """The event's first leaf with its inclusion proof in the checkpoint of `batch` (None: the
    latest, which covers every appended leaf); None when no appended leaf records the event or
    that checkpoint predates it (or does not exist)."""
    async with control_db.acquire() as conn:
        leaf = await conn.fetchrow(SELECT_EVENT_LEAF, tenant, event_id)
        return await _parts(conn, leaf, batch)


async def record_receipt_parts(
    control_db: Any, stream: str, seq: int, *, batch: int | None = None
) -> ReceiptParts | None:
    """As inclusion_receipt_parts, for the leaf of the record at `seq` of `stream` (a key's
    winning record, as the dedup store names it)."""
    async with control_db.acquire() as conn:
        leaf = await conn.fetchrow(SELECT_RECORD_LEAF, stream, seq)
        return await _parts(conn, leaf, batch)


async def record_leaf_index(control_db: Any, stream: str, seq: int) -> int | None:
    """The log index of the record's leaf; None while it is not appended (or not enriched)."""
    index = await control_db.fetchval(SELECT_RECORD_INDEX, stream, seq)
    return None if index is None else int(index)


async def _parts(conn: Any, leaf: Any, batch: int | None) -> ReceiptParts | None:
    if leaf is None:
        return None
    row = await (
        conn.fetchrow(SELECT_LATEST_CHECKPOINT)
        if batch is None
        else conn.fetchrow(SELECT_CHECKPOINT, batch)
    )
    if row is None or row["size"] <= leaf["idx"]:
        return None
    checkpoint = checkpoint_from_row(row)
    proof = await _fold(conn, inclusion_proof_nodes(leaf["idx"], checkpoint.size))
    return ReceiptParts(bytes(leaf["leaf"]), leaf["idx"], proof, checkpoint)


async def consistency_between(control_db: Any, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 9162 §2.1.4 consistency proof from `old_size` to `new_size` (empty when one is
    0 or they are equal). Requires 0 <= old_size <= new_size <= the log's size."""
    async with control_db.acquire() as conn:
        size = await conn.fetchval(SELECT_LOG_SIZE)
        if not 0 <= old_size <= new_size <= size:
            raise AuditError(
                f"expected 0 <= old_size <= new_size <= {size} (the log's size), got "
                f"{old_size} and {new_size}"
            )
        if old_size in (0, new_size):
            return []
        return await _fold(conn, consistency_proof_nodes(old_size, new_size))


async def _fold(conn: Any, elements: list[list[NodeId]]) -> list[bytes]:
    wanted = sorted({node for element in elements for node in element})
    rows = await conn.fetch(SELECT_NODES, [n[0] for n in wanted], [n[1] for n in wanted])
    found = {(r["level"], r["idx"]): bytes(r["hash"]) for r in rows}
    if len(found) != len(wanted):
        missing = [node for node in wanted if node not in found]
        raise LogInconsistent(f"expected stored nodes {missing[:5]}, not found")
    return [fold_right([found[node] for node in element]) for element in elements]
