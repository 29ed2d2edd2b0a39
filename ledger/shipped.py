"""A WAL segment as shipped: the facts its manifest will state, carried from upload to commit."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ShippedSegment(BaseModel):
    """What was uploaded for one segment: its seqs, where, and the hashes its manifest states.
    Small and typed, so workflows carry it between the upload and the manifest commit."""

    model_config = ConfigDict(frozen=True)

    stream: str
    first_seq: int
    last_seq: int
    records: int
    key: str
    raw_bytes: int
    raw_sha256: str
    compressed_bytes: int
    sha256: str
    sealed_at_ms: int
