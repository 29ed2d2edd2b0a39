"""A region's checkpoint as a witnessed note: the log's signed note with the cosignature lines
its witnesses returned appended (C2SP tlog-cosignature: cosignatures are further signature
lines of the same note), which is what `geoledger audit checkpoint` prints and a receipt
carries."""

from __future__ import annotations

from typing import Any, TypedDict

from storage.audit.checkpoints import checkpoint_of, latest_checkpoint
from storage.audit.witness_cosignatures import cosignatures_for

# The newest checkpoint covering index $1 that at least one witness cosigned.
SELECT_NEWEST_COSIGNED_COVERING = """
SELECT c.batch FROM audit_checkpoints c
WHERE c.size > $1 AND EXISTS (SELECT 1 FROM audit_cosignatures s WHERE s.batch = c.batch)
ORDER BY c.batch DESC LIMIT 1
"""
# The oldest checkpoint covering index $1: the first that proves the leaf at all.
SELECT_FIRST_COVERING = """
SELECT batch FROM audit_checkpoints WHERE size > $1 ORDER BY batch LIMIT 1
"""


class WitnessedNote(TypedDict):
    """A checkpoint with its cosignatures, JSON-ready."""

    batch: int
    size: int
    root_hex: str
    note: str
    witnesses: list[str]


def with_cosignatures(note: str, lines: list[str]) -> str:
    """`note` with each cosignature line (newline-terminated) appended after its signatures."""
    return note + "".join(line if line.endswith("\n") else line + "\n" for line in lines)


async def witnessed_note(db: Any, batch: int | None = None) -> WitnessedNote | None:
    """The checkpoint of `batch` (None: the latest) with every cosignature stored for it; None
    when there is no such checkpoint."""
    checkpoint = await (latest_checkpoint(db) if batch is None else checkpoint_of(db, batch))
    if checkpoint is None:
        return None
    cosignatures = await cosignatures_for(db, checkpoint.batch)
    return WitnessedNote(
        batch=checkpoint.batch,
        size=checkpoint.size,
        root_hex=checkpoint.root_hex,
        note=with_cosignatures(checkpoint.note, [c.line for c in cosignatures]),
        witnesses=[c.witness for c in cosignatures],
    )


async def batch_to_prove(db: Any, index: int) -> tuple[int | None, bool]:
    """The checkpoint a receipt for leaf `index` should use: the newest one a witness cosigned
    that covers it (True), else the first signed one that covers it (False), else (None, False)
    when no checkpoint covers it yet."""
    cosigned = await db.fetchval(SELECT_NEWEST_COSIGNED_COVERING, index)
    if cosigned is not None:
        return cosigned, True
    return await db.fetchval(SELECT_FIRST_COVERING, index), False
