"""The pure pieces of the geo-divergence check: the record hash, the exact diff of two record
multisets, fingerprint comparison, and the bisection plan the workflow drives, here fed with
fingerprints computed in Python from the same definitions the SQL implements."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import pytest

from activities.geo_models import RangeFingerprintModel
from ledger.errors import GeoInputError
from ledger.seq_buckets import bucket_count, bucket_of, bucket_width
from ledger.seq_range import SeqRange
from ledger.stream_bisection import MAX_DIFF_SEQS, RANGES_PER_DIFF_CALL, StreamBisection
from storage.geo import (
    DivergenceKind,
    StreamRecord,
    diff_records,
    pair_name,
    part_key,
    record_hash,
    report_key,
)
from storage.geo.fingerprint import HASH_MODULUS, check_disjoint
from workflows.geo_divergence import on_demand_workflow_id

# Derived here, reproduced by:
#   python -c "import hashlib; d = b'geoledger.geo-fingerprint.v1\x00acme\x00evt-1\x00'
#   + (7).to_bytes(8, 'big') + (1700000000000).to_bytes(8, 'big') + bytes(32);
#   print(int.from_bytes(hashlib.sha256(d).digest()[:8], 'big'))"
RECORD_HASH_VECTORS = [
    (("acme", "evt-1", 7, 1_700_000_000_000, bytes(32)), 18022721094012145510),
]


@pytest.mark.parametrize(("fields", "expected"), RECORD_HASH_VECTORS)
def test_record_hash_vector(fields: tuple[str, str, int, int, bytes], expected: int) -> None:
    assert record_hash(*fields) == expected


def test_record_hash_separates_every_field() -> None:
    base = ("acme", "evt-1", 7, 1, bytes(32))
    variants = [
        ("acm", "eevt-1", 7, 1, bytes(32)),  # the NUL separator keeps ids apart
        ("acme", "evt-1", 8, 1, bytes(32)),
        ("acme", "evt-1", 7, 2, bytes(32)),
        ("acme", "evt-1", 7, 1, bytes(31) + b"\x01"),
    ]
    hashes = {record_hash(*base), *(record_hash(*v) for v in variants)}
    assert len(hashes) == 1 + len(variants)


# --- exact diff -----------------------------------------------------------------------------


def rec(seq: int, event: str = "", digest: str = "d", hlc: int = 1) -> StreamRecord:
    return StreamRecord(
        seq, "acme", event or f"evt-{seq}", hlc, hashlib.sha256(digest.encode()).digest()
    )


def test_identical_multisets_do_not_differ_whatever_the_order() -> None:
    records = [rec(s) for s in range(1, 50)] + [rec(7, "evt-x")]
    shuffled = list(records)
    random.Random(3).shuffle(shuffled)
    assert diff_records(records, shuffled) == []


def test_diff_names_missing_and_different_records() -> None:
    in_a = [rec(1), rec(2), rec(3, digest="a"), rec(5)]
    in_b = [rec(1), rec(3, digest="b"), rec(4), rec(5), rec(5, "evt-dup")]

    found = [(d.seq, d.kind, d.in_a, d.in_b) for d in diff_records(in_a, in_b)]

    assert found == [
        (2, DivergenceKind.MISSING_IN_B, rec(2), None),
        (3, DivergenceKind.DIFFERENT, rec(3, digest="a"), rec(3, digest="b")),
        (4, DivergenceKind.MISSING_IN_A, None, rec(4)),
        (5, DivergenceKind.MISSING_IN_A, None, rec(5, "evt-dup")),
    ]


def test_diff_counts_duplicates_as_a_multiset() -> None:
    # The same record twice in a (two shards both holding it) is one record too many.
    found = diff_records([rec(1), rec(1)], [rec(1)])
    assert [(d.seq, d.kind) for d in found] == [(1, DivergenceKind.MISSING_IN_B)]


@pytest.mark.parametrize("field", ["event", "hlc", "digest"])
def test_any_changed_field_is_a_difference(field: str) -> None:
    changed = {"event": rec(9, "evt-other"), "hlc": rec(9, hlc=2), "digest": rec(9, digest="x")}
    [found] = diff_records([rec(9)], [changed[field]])
    assert found.kind == DivergenceKind.DIFFERENT


# --- fingerprint comparison and bisection ----------------------------------------------------


def fingerprint(
    records: list[StreamRecord], whole: SeqRange, buckets: int
) -> RangeFingerprintModel:
    """What the fingerprint SQL returns for `records`, computed from the same definitions."""
    width = bucket_width(whole, buckets)
    count = bucket_count(whole, width)
    counts, hashes = [0] * count, [0] * count
    for r in records:
        if whole.lo <= r.seq <= whole.hi:
            index = bucket_of(whole, width, r.seq)
            counts[index] += 1
            h = record_hash(r.tenant_id, r.event_id, r.seq, r.hlc, r.digest)
            hashes[index] = (hashes[index] + h) % HASH_MODULUS
    return RangeFingerprintModel(
        lo=whole.lo, hi=whole.hi, width=width, counts=counts, hashes=hashes
    )


def bisect(
    in_a: list[StreamRecord],
    in_b: list[StreamRecord],
    upto: int,
    buckets: int = 64,
    exact_range: int = 256,
    max_diff_ranges: int = 512,
) -> tuple[StreamBisection, int]:
    """Drive the plan as the workflow does; return it and the number of fingerprint rounds."""
    plan = StreamBisection(upto, exact_range, max_diff_ranges)
    rounds = 0
    while plan.pending:
        ranges = plan.next_ranges(32)
        check_disjoint(ranges)
        plan.record(
            [fingerprint(in_a, r, buckets) for r in ranges],
            [fingerprint(in_b, r, buckets) for r in ranges],
        )
        rounds += 1
    return plan, rounds


def stream(n: int) -> list[StreamRecord]:
    return [rec(s) for s in range(1, n + 1)]


def test_equal_fingerprints_yield_no_range() -> None:
    plan, rounds = bisect(stream(10_000), stream(10_000), 10_000)
    assert (plan.to_diff, plan.pending, plan.truncated, rounds) == ([], [], False, 1)


def test_bisection_narrows_to_exactly_the_divergent_seqs() -> None:
    n = 50_000
    in_a = stream(n)
    in_b = [r for r in in_a if r.seq not in (5, 17_777)]  # missing in b
    in_b = [rec(r.seq, digest="x") if r.seq == 33_456 else r for r in in_b]  # different
    in_b.append(rec(49_999, "evt-extra"))  # missing in a

    plan, rounds = bisect(in_a, in_b, n, buckets=8, exact_range=64)

    assert not plan.truncated
    assert all(r.size <= 64 for r in plan.to_diff)
    # Four divergent seqs, each in its own narrow range, after four rounds: widths 6,250, 782,
    # 98, then 13 <= 64 (the ranges of one round fit one batch of 32).
    assert len(plan.to_diff) == 4
    assert rounds == 4
    ranges = plan.to_diff
    wanted = [r for r in in_a if any(x.lo <= r.seq <= x.hi for x in ranges)]
    got = [r for r in in_b if any(x.lo <= r.seq <= x.hi for x in ranges)]
    found = {(d.seq, d.kind) for d in diff_records(wanted, got)}
    assert found == {
        (5, DivergenceKind.MISSING_IN_B),
        (17_777, DivergenceKind.MISSING_IN_B),
        (33_456, DivergenceKind.DIFFERENT),
        (49_999, DivergenceKind.MISSING_IN_A),
    }


def test_a_small_stream_is_diffed_after_one_round() -> None:
    in_b = [r for r in stream(100) if r.seq != 50]
    plan, rounds = bisect(stream(100), in_b, 100)
    assert rounds == 1
    assert [(r.lo, r.hi) for r in plan.to_diff] == [(49, 50)]  # 64 buckets of width 2


def test_records_above_upto_are_not_compared() -> None:
    in_a = stream(1_000)
    plan, _ = bisect(in_a, in_a[:900], 900)
    assert plan.to_diff == []


def test_too_many_differing_ranges_truncate_to_the_lowest() -> None:
    in_a = stream(10_000)
    gone = {100, 2_000, 4_000, 6_000, 8_000}
    plan, _ = bisect(in_a, [r for r in in_a if r.seq not in gone], 10_000, 8, 64, max_diff_ranges=2)
    assert plan.truncated
    assert len(plan.to_diff) == 2
    covered = {s for s in gone for r in plan.to_diff if r.lo <= s <= r.hi}
    assert covered == {100, 2_000}


def test_differing_ranges_of_mismatched_cuts_is_the_whole_range() -> None:
    mine = RangeFingerprintModel(lo=1, hi=10, width=5, counts=[1, 1], hashes=[1, 1])
    theirs = RangeFingerprintModel(lo=1, hi=10, width=4, counts=[1, 1, 0], hashes=[1, 1, 0])
    assert mine.differing_ranges(theirs) == [SeqRange(lo=1, hi=10)]
    assert mine.differing_ranges(mine) == []


def test_differing_ranges_compares_count_and_hash() -> None:
    mine = RangeFingerprintModel(lo=1, hi=10, width=4, counts=[1, 2, 3], hashes=[7, 8, 9])
    theirs = RangeFingerprintModel(lo=1, hi=10, width=4, counts=[1, 3, 3], hashes=[7, 8, 0])
    assert mine.differing_ranges(theirs) == [
        SeqRange(lo=5, hi=8),
        SeqRange(lo=9, hi=10),
    ]


def test_diff_batches_respect_both_limits() -> None:
    plan = StreamBisection(0, 4096, 100_000)
    plan.to_diff = [SeqRange(lo=i * 10_000 + 1, hi=i * 10_000 + 4096) for i in range(40)]
    plan.to_diff += [SeqRange(lo=1_000_000 + i * 10, hi=1_000_000 + i * 10) for i in range(100)]
    batches = plan.diff_batches()
    assert [r for batch in batches for r in batch] == sorted(plan.to_diff, key=lambda r: r.lo)
    assert all(len(batch) <= RANGES_PER_DIFF_CALL for batch in batches)
    assert all(sum(r.size for r in batch) <= MAX_DIFF_SEQS for batch in batches)
    # 16 wide ranges fill 2**16 seqs; then 8 wide ones and 56 single seqs make 64 ranges.
    assert [len(batch) for batch in batches] == [16, 16, 64, 44]


def test_overlapping_ranges_are_refused() -> None:
    with pytest.raises(GeoInputError, match="sorted, disjoint"):
        check_disjoint([SeqRange(lo=1, hi=10), SeqRange(lo=10, hi=20)])
    with pytest.raises(GeoInputError, match="at least one"):
        check_disjoint([])


def test_names() -> None:
    assert pair_name("us", "eu") == pair_name("eu", "us") == "eu-us"
    assert report_key("geo-divergence-x", "eu-us") == "geo/divergence/geo-divergence-x/eu-us.json"
    assert part_key("w", "eu-us", "us/n1", [SeqRange(lo=5, hi=9), SeqRange(lo=20, hi=30)]) == (
        "geo/divergence/w/parts/eu-us/us/n1/00000000000000000005-00000000000000000030.json"
    )


def test_on_demand_workflow_id() -> None:
    now = datetime(2025, 11, 25, 18, 5, 7, 123456, tzinfo=UTC)
    assert on_demand_workflow_id(now) == "geo-divergence-2025-11-25T18:05:07.123Z"
