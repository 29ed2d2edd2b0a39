"""A range of seqs of one WAL stream: what the geo-divergence check fingerprints, bisects and
diffs (ARCHITECTURE §3 "Geo-divergence")."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import GeoInputError

MAX_SEQ = (1 << 63) - 1
"""Seqs are PostgreSQL bigint."""


@dataclass(frozen=True, slots=True, order=True)
class SeqRange:
    """The seqs `lo..hi` of one stream, both included. Requires 1 <= lo <= hi <= MAX_SEQ."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not (1 <= self.lo <= self.hi <= MAX_SEQ):
            raise GeoInputError(
                f"seq range: expected 1 <= lo <= hi <= 2**63-1, got lo={self.lo}, hi={self.hi}"
            )

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"
