"""A range of seqs of one WAL stream: what the geo-divergence check fingerprints, bisects and
diffs (ARCHITECTURE §3 "Geo-divergence"). One type for the check's storage code and its workflow
payloads, as `{"lo": ..., "hi": ...}`."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from ledger.errors import GeoInputError

MAX_SEQ = (1 << 63) - 1
"""Seqs are PostgreSQL bigint."""


class SeqRange(BaseModel):
    """The seqs `lo..hi` of one stream, both included. Requires 1 <= lo <= hi <= MAX_SEQ."""

    model_config = ConfigDict(frozen=True)

    lo: int
    hi: int

    @model_validator(mode="after")
    def _within_bounds(self) -> Self:
        # GeoInputError is no ValueError: pydantic lets it through as it is, so a bad range
        # fails as the check's own input error wherever it is built or decoded.
        if not (1 <= self.lo <= self.hi <= MAX_SEQ):
            raise GeoInputError(
                f"seq range: expected 1 <= lo <= hi <= 2**63-1, got lo={self.lo}, hi={self.hi}"
            )
        return self

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"
