"""Bucket math of the geo-divergence fingerprints: every seq of a range falls in exactly one
bucket, the SQL's `(seq - lo) / width` and Python agree, and bad input is refused."""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import pairwise

import pytest

from ledger.errors import GeoInputError
from ledger.seq_buckets import bucket_count, bucket_of, bucket_range, bucket_width
from ledger.seq_range import MAX_SEQ, SeqRange
from storage.geo.fingerprint import range_thresholds
from storage.geo.streams import stream_parts

# (lo, hi, buckets) -> (width, buckets used)
WIDTHS = {
    (1, 1, 64): (1, 1),
    (1, 64, 64): (1, 64),
    (1, 65, 64): (2, 33),  # ceil(65/64) = 2: the last bucket holds one seq
    (1, 3000, 64): (47, 64),
    (1, 3000, 4): (750, 4),
    (10, 19, 3): (4, 3),  # 10..13, 14..17, 18..19
    (1, MAX_SEQ, 64): (144115188075855872, 64),
}


@pytest.mark.parametrize(("case", "expected"), WIDTHS.items(), ids=str)
def test_width_and_count(case: tuple[int, int, int], expected: tuple[int, int]) -> None:
    lo, hi, buckets = case
    seqs = SeqRange(lo=lo, hi=hi)
    width = bucket_width(seqs, buckets)
    assert (width, bucket_count(seqs, width)) == expected
    assert bucket_count(seqs, width) <= buckets


@pytest.mark.parametrize(
    ("lo", "hi", "buckets"), [(1, 100, 7), (5, 5, 2), (17, 300, 64), (3, 10, 8)]
)
def test_buckets_tile_the_range_and_match_bucket_of(lo: int, hi: int, buckets: int) -> None:
    seqs = SeqRange(lo=lo, hi=hi)
    width = bucket_width(seqs, buckets)
    parts = [bucket_range(seqs, width, i) for i in range(bucket_count(seqs, width))]
    assert parts[0].lo == lo and parts[-1].hi == hi
    for before, after in pairwise(parts):
        assert after.lo == before.hi + 1  # no gap, no overlap
    for index, part in enumerate(parts):
        assert part.size <= width
        for seq in range(part.lo, part.hi + 1):
            assert bucket_of(seqs, width, seq) == index


def test_the_widest_range_does_not_overflow_a_bigint() -> None:
    seqs = SeqRange(lo=1, hi=MAX_SEQ)
    width = bucket_width(seqs, 64)
    last = bucket_range(seqs, width, bucket_count(seqs, width) - 1)
    assert last.hi == MAX_SEQ
    assert bucket_of(seqs, width, MAX_SEQ) == 63


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(0, 5), (5, 4), (1, MAX_SEQ + 1), (-1, 3)],
    ids=["zero", "reversed", "big", "neg"],
)
def test_bad_ranges_are_refused(lo: int, hi: int) -> None:
    with pytest.raises(GeoInputError, match=f"lo={lo}, hi={hi}"):
        SeqRange(lo=lo, hi=hi)


def test_bad_bucket_arguments_are_refused() -> None:
    seqs = SeqRange(lo=1, hi=10)
    with pytest.raises(GeoInputError, match="buckets: expected at least 1, got 0"):
        bucket_width(seqs, 0)
    with pytest.raises(GeoInputError, match="width: expected at least 1, got 0"):
        bucket_count(seqs, 0)
    with pytest.raises(GeoInputError, match=re.escape("expected one in 1..10, got 11")):
        bucket_of(seqs, 5, 11)
    with pytest.raises(GeoInputError, match=re.escape("expected 0..1, got 2")):
        bucket_range(seqs, 5, 2)


def test_stream_parts() -> None:
    assert stream_parts("us/n1") == ("us", "n1")
    for bad in ("us", "/n1", "us/", "us/n1/x", ""):
        with pytest.raises(GeoInputError, match="expected a stream '<region>/<node>'"):
            stream_parts(bad)


# PostgreSQL's width_bucket(x, thresholds) over an array is the number of thresholds <= x
# (src/backend/utils/adt/arrayfuncs.c, width_bucket_array): Python's bisect_right.
THRESHOLD_CASES = {
    "one": [SeqRange(lo=5, hi=9)],
    "adjacent": [SeqRange(lo=1, hi=10), SeqRange(lo=11, hi=20), SeqRange(lo=21, hi=21)],
    "gaps": [SeqRange(lo=3, hi=4), SeqRange(lo=10, hi=12), SeqRange(lo=40, hi=50)],
    "to-the-top": [SeqRange(lo=1, hi=2), SeqRange(lo=MAX_SEQ - 3, hi=MAX_SEQ)],
}


@pytest.mark.parametrize("case", THRESHOLD_CASES)
def test_width_bucket_slots_name_the_range_of_each_seq(case: str) -> None:
    ranges = THRESHOLD_CASES[case]
    thresholds = range_thresholds(ranges)
    assert thresholds == sorted(thresholds) and all(t <= MAX_SEQ for t in thresholds)
    probes = {s for r in ranges for s in (r.lo - 1, r.lo, r.lo + 1, r.hi - 1, r.hi, r.hi + 1)}
    for seq in sorted(p for p in probes if ranges[0].lo <= p <= ranges[-1].hi):
        slot = bisect_right(thresholds, seq)
        inside = [k for k, r in enumerate(ranges, start=1) if r.lo <= seq <= r.hi]
        if inside:
            assert slot % 2 == 1 and (slot + 1) // 2 == inside[0], seq
        else:
            assert slot % 2 == 0, seq
