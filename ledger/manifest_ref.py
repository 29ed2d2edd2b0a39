"""Where a committed manifest is, as a listing of a stream's store finds it. One type for the
CRR storage code and the replay workflow's payloads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ManifestRef(BaseModel):
    """The object key of one manifest and the seqs of the segment it commits, both included."""

    model_config = ConfigDict(frozen=True)

    key: str
    first_seq: int
    last_seq: int
