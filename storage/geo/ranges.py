"""Sequence ranges of one WAL stream and the equal-width buckets the fingerprints split them into.

A range `[lo, hi]` (inclusive) of `n = hi - lo + 1` seqs is cut into buckets of width
`ceil(n / buckets)`; seq `s` falls in bucket `(s - lo) // width`, so at most `buckets` buckets are
used and only the last one may be narrower. The SQL of storage/geo/fingerprint.py computes the
same `(seq - lo) / width` (integer division of non-negative bigints), so Python and PostgreSQL
agree on every bucket's bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.stream_id import StreamId
from storage.geo.errors import GeoInputError

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


def bucket_width(seqs: SeqRange, buckets: int) -> int:
    """The width that cuts `seqs` into at most `buckets` buckets: ceil(size / buckets).

    Requires buckets >= 1.
    """
    if buckets < 1:
        raise GeoInputError(f"buckets: expected at least 1, got {buckets}")
    return -(-seqs.size // buckets)


def bucket_count(seqs: SeqRange, width: int) -> int:
    """How many buckets of `width` cover `seqs`: ceil(size / width). Requires width >= 1."""
    _check_width(width)
    return -(-seqs.size // width)


def bucket_of(seqs: SeqRange, width: int, seq: int) -> int:
    """The index of the bucket holding `seq`, as the fingerprint SQL computes it.

    Requires width >= 1 and seq within `seqs`.
    """
    _check_width(width)
    if not seqs.lo <= seq <= seqs.hi:
        raise GeoInputError(f"seq: expected one in {seqs}, got {seq}")
    return (seq - seqs.lo) // width


def bucket_range(seqs: SeqRange, width: int, index: int) -> SeqRange:
    """The seqs of bucket `index`. Requires width >= 1 and 0 <= index < bucket_count."""
    count = bucket_count(seqs, width)
    if not 0 <= index < count:
        raise GeoInputError(f"bucket index: expected 0..{count - 1}, got {index}")
    lo = seqs.lo + index * width
    return SeqRange(lo, min(seqs.hi, lo + width - 1))


def _check_width(width: int) -> None:
    if width < 1:
        raise GeoInputError(f"bucket width: expected at least 1, got {width}")


def stream_parts(stream: str) -> tuple[str, str]:
    """`(region, node)` of a stream named `<region>/<node>`; raises GeoInputError."""
    try:
        parsed = StreamId.parse(stream)
    except ValueError as exc:
        raise GeoInputError(str(exc)) from None
    return parsed.region, parsed.node
