"""The equal-width buckets the geo-divergence fingerprints cut a seq range into
(ARCHITECTURE §3 "Geo-divergence").

A range `[lo, hi]` (inclusive) of `n = hi - lo + 1` seqs is cut into buckets of width
`ceil(n / buckets)`; seq `s` falls in bucket `(s - lo) // width`, so at most `buckets` buckets are
used and only the last one may be narrower. The SQL of storage/geo/fingerprint.py computes the
same `(seq - lo) / width` (integer division of non-negative bigints), so Python and PostgreSQL
agree on every bucket's bounds.
"""

from __future__ import annotations

from ledger.errors import GeoInputError
from ledger.seq_range import SeqRange


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
    return SeqRange(lo=lo, hi=min(seqs.hi, lo + width - 1))


def _check_width(width: int) -> None:
    if width < 1:
        raise GeoInputError(f"bucket width: expected at least 1, got {width}")
