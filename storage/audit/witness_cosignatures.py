"""Witness cosignatures of the log's checkpoints (`audit_cosignatures`), one per (batch,
witness): stored as the witness answered them, for receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INSERT = """
INSERT INTO audit_cosignatures (batch, witness, line, timestamp, size) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (batch, witness) DO NOTHING
"""
SELECT_FOR_BATCH = """
SELECT batch, witness, line, timestamp, size FROM audit_cosignatures WHERE batch = $1
ORDER BY witness
"""


@dataclass(frozen=True)
class StoredCosignature:
    """A cosignature line of one witness on the checkpoint of `batch` (tree `size`)."""

    batch: int
    witness: str
    line: str
    timestamp: int
    size: int


async def store_cosignature(db: Any, cosignature: StoredCosignature) -> None:
    """Keep the cosignature; a second one for the same batch and witness keeps the first."""
    c = cosignature
    await db.execute(INSERT, c.batch, c.witness, c.line, c.timestamp, c.size)


async def cosignatures_for(db: Any, batch: int) -> list[StoredCosignature]:
    """Every stored cosignature of the batch's checkpoint, by witness name."""
    rows = await db.fetch(SELECT_FOR_BATCH, batch)
    return [
        StoredCosignature(
            int(r["batch"]), r["witness"], r["line"], int(r["timestamp"]), int(r["size"])
        )
        for r in rows
    ]
