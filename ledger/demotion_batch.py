"""What one demotion batch did: the one type storage/tiering/demote.py returns and the
DemotionWorkflow receives from its activity (like ledger/shipped.py, no twin model to convert)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DemotionBatch(BaseModel):
    """Rows read, moved, skipped (changed since read) and stored raw (compression on, but zstd
    would not shrink them); body bytes read from the tier left and bytes written to the next;
    where the next batch starts (None: nothing left to read); the pack written (warm -> cold);
    why the batch moved nothing without reading (`resharding`: the region is being re-sharded)."""

    model_config = ConfigDict(frozen=True)

    read: int
    moved: int
    skipped: int
    stored_raw: int
    bytes_in: int
    bytes_out: int
    next_after: str | None
    pack_id: str | None = None
    resharding: str | None = None
