"""The exact comparison of two regions over small seq ranges of one stream: fetch every record
both regions hold in those ranges, and name each one that is not in both."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ledger.errors import GeoInputError
from ledger.seq_range import SeqRange
from ledger.stream_bisection import MAX_DIFF_SEQS
from storage.geo.fingerprint import check_disjoint, horizon_arrays, range_thresholds
from storage.geo.streams import stream_parts

# Seqs in [$3, $4] prune both tables; `width_bucket` keeps those inside a range (odd slots, see
# storage/geo/fingerprint.py `range_thresholds`) by binary search over the range bounds.
FETCH_SQL = """
SELECT * FROM (
    SELECT seq, tenant_id, event_id, hlc, digest
    FROM dedup_events
    WHERE region = $1 AND node = $2 AND seq BETWEEN $3 AND $4
      AND width_bucket(seq, $5::bigint[]) % 2 = 1
    UNION ALL
    SELECT seq, tenant_id, event_id, hlc, digest
    FROM dedup_copies
    WHERE region = $1 AND node = $2 AND seq BETWEEN $3 AND $4
      AND width_bucket(seq, $5::bigint[]) % 2 = 1
) AS rec
-- below a retention horizon: left out, as by the fingerprints
WHERE NOT EXISTS (
    SELECT 1 FROM unnest($6::text[], $7::bigint[]) AS h(tenant_id, horizon_hlc)
    WHERE h.tenant_id = rec.tenant_id AND rec.hlc < h.horizon_hlc
)
"""


@dataclass(frozen=True, slots=True, order=True)
class StreamRecord:
    """One applied record of a stream, as both regions must hold it: its seq and what it says."""

    seq: int
    tenant_id: str
    event_id: str
    hlc: int
    digest: bytes


class DivergenceKind(StrEnum):
    """How a record differs between regions a and b."""

    MISSING_IN_A = "missing_in_a"  # region b holds the record, region a does not
    MISSING_IN_B = "missing_in_b"  # region a holds the record, region b does not
    DIFFERENT = "different"  # both hold a record with this seq, saying different things


@dataclass(frozen=True, slots=True)
class Divergence:
    """One record that is not in both regions. `in_a` / `in_b` is what each region holds at
    `seq` (None for the region that lacks it)."""

    seq: int
    kind: DivergenceKind
    in_a: StreamRecord | None
    in_b: StreamRecord | None


def check_diff_ranges(ranges: Sequence[SeqRange]) -> None:
    """Require sorted, disjoint ranges of at most MAX_DIFF_SEQS seqs in all."""
    check_disjoint(ranges)
    total = sum(seqs.size for seqs in ranges)
    if total > MAX_DIFF_SEQS:
        raise GeoInputError(
            f"exact diff: expected at most {MAX_DIFF_SEQS} seqs per call, got {total}"
        )


async def fetch_records(
    shards: Sequence[Any], stream: str, ranges: Sequence[SeqRange], horizons: Mapping[str, int]
) -> list[StreamRecord]:
    """Every record of `stream` with a seq in `ranges` held by `shards` (asyncpg pools: a
    region's read ring), winners and copies alike, sorted; a record below its tenant's hlc in
    `horizons` is left out.

    Requires what `check_diff_ranges` checks and a stream named `<region>/<node>`; raises
    GeoInputError otherwise, before any query.
    """
    region, node = stream_parts(stream)
    check_diff_ranges(ranges)
    arguments = (
        region,
        node,
        ranges[0].lo,
        ranges[-1].hi,
        range_thresholds(ranges),
        *horizon_arrays(horizons),
    )
    per_shard = await asyncio.gather(*(pool.fetch(FETCH_SQL, *arguments) for pool in shards))
    return sorted(
        StreamRecord(
            seq=int(row["seq"]),
            tenant_id=row["tenant_id"],
            event_id=row["event_id"],
            hlc=int(row["hlc"]),
            digest=bytes(row["digest"]),
        )
        for rows in per_shard
        for row in rows
    )


def diff_records(in_a: Iterable[StreamRecord], in_b: Iterable[StreamRecord]) -> list[Divergence]:
    """Every record not held by both regions, by seq.

    Records are compared as multisets per seq: at a seq where each region holds a record the other
    lacks, the two are reported together as DIFFERENT (same origin, different content); records
    left over are MISSING in the region without them.
    """
    by_seq_a = _by_seq(in_a)
    by_seq_b = _by_seq(in_b)
    found: list[Divergence] = []
    for seq in sorted(by_seq_a.keys() | by_seq_b.keys()):
        held_a, held_b = by_seq_a[seq], by_seq_b[seq]
        only_a = sorted((held_a - held_b).elements())
        only_b = sorted((held_b - held_a).elements())
        paired = min(len(only_a), len(only_b))
        for a, b in zip(only_a[:paired], only_b[:paired], strict=True):
            found.append(Divergence(seq, DivergenceKind.DIFFERENT, a, b))
        for a in only_a[paired:]:
            found.append(Divergence(seq, DivergenceKind.MISSING_IN_B, a, None))
        for b in only_b[paired:]:
            found.append(Divergence(seq, DivergenceKind.MISSING_IN_A, None, b))
    return found


def _by_seq(records: Iterable[StreamRecord]) -> defaultdict[int, Counter[StreamRecord]]:
    grouped: defaultdict[int, Counter[StreamRecord]] = defaultdict(Counter)
    for record in records:
        grouped[record.seq][record] += 1
    return grouped
