"""Bucketed fingerprints of the records one region holds from one source stream.

A record is identified by its origin `(region, node, seq)` and describes `(tenant_id, event_id,
hlc, digest)`. Its hash is the first 8 bytes, big-endian, of

    SHA-256(FINGERPRINT_DOMAIN || tenant_id || 0x00 || event_id || 0x00 || int8(seq) || int8(hlc)
            || digest)

(UTF-8 text; int8 = 8-byte big-endian two's complement, PostgreSQL's `int8send`; the NUL cannot
occur in either id, so distinct records never share an input). A bucket's fingerprint is the
number of its records and the sum of their hashes modulo 2**64. A sum does not depend on order,
so each shard computes its part in SQL (one query per shard per call, GROUP BY bucket) and the
parts simply add up: the fingerprint of a region does not depend on how many shards it has or
which holds which key.

Records are the union of `dedup_events` (winners) and `dedup_copies` (every other record applied),
so who won a key does not matter, only which records were applied: winners legitimately differ
between regions while other streams are still replaying, the records of one stream up to a common
watermark must not.

Records below a tenant's retention horizon (migration 0007) are left out: the caller passes, per
tenant, the higher horizon of the regions compared (storage/tiering/horizons.higher_horizons), so
a region that expired already and one that has not yet compare equal above it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from ledger.errors import GeoInputError
from ledger.seq_buckets import bucket_count, bucket_width
from ledger.seq_range import MAX_SEQ, SeqRange
from storage.geo.streams import stream_parts

FINGERPRINT_DOMAIN = b"geoledger.geo-fingerprint.v1\x00"
HASH_MODULUS = 1 << 64

# Seqs in [$3, $4] prune both tables; `width_bucket` then finds each record's range by binary
# search over the range bounds (see `range_thresholds`): an odd slot 2k-1 is range k, an even one
# a gap between ranges. The hash is read as a signed bigint (bit(64)::bigint) and summed as
# numeric: a signed sum and an unsigned one agree modulo 2**64.
FINGERPRINT_SQL = r"""
WITH records AS (
    SELECT tenant_id, event_id, seq, hlc, digest
    FROM dedup_events
    WHERE region = $1 AND node = $2 AND seq BETWEEN $3 AND $4
    UNION ALL
    SELECT tenant_id, event_id, seq, hlc, digest
    FROM dedup_copies
    WHERE region = $1 AND node = $2 AND seq BETWEEN $3 AND $4
),
located AS (
    SELECT rec.*, (width_bucket(rec.seq, $5::bigint[]) + 1) / 2 AS ord
    FROM records rec
    WHERE width_bucket(rec.seq, $5::bigint[]) % 2 = 1
      AND NOT EXISTS (
          SELECT 1 FROM unnest($9::text[], $10::bigint[]) AS h(tenant_id, horizon_hlc)
          WHERE h.tenant_id = rec.tenant_id AND rec.hlc < h.horizon_hlc
      )
)
SELECT ord,
       (seq - ($6::bigint[])[ord]) / ($7::bigint[])[ord] AS bucket,
       count(*) AS records,
       sum(('x' || encode(substr(sha256(
               $8::bytea
               || convert_to(tenant_id, 'UTF8') || '\x00'::bytea
               || convert_to(event_id, 'UTF8') || '\x00'::bytea
               || int8send(seq) || int8send(hlc) || digest
           ), 1, 8), 'hex'))::bit(64)::bigint::numeric) AS hash_sum
FROM located
GROUP BY ord, bucket
"""


def record_hash(tenant_id: str, event_id: str, seq: int, hlc: int, digest: bytes) -> int:
    """The hash the fingerprint SQL computes for one record (see the module docstring)."""
    data = b"".join(
        (
            FINGERPRINT_DOMAIN,
            tenant_id.encode(),
            b"\x00",
            event_id.encode(),
            b"\x00",
            seq.to_bytes(8, "big", signed=True),
            hlc.to_bytes(8, "big", signed=True),
            digest,
        )
    )
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


@dataclass(frozen=True, slots=True)
class RangeFingerprint:
    """The fingerprint of one range: per bucket of `width` seqs, a record count and a hash sum.

    `counts` and `hashes` have one entry per bucket (`bucket_count(seqs, width)` of them),
    zero for an empty bucket.
    """

    seqs: SeqRange
    width: int
    counts: tuple[int, ...]
    hashes: tuple[int, ...]

    @property
    def records(self) -> int:
        """The number of records in the range."""
        return sum(self.counts)


def range_thresholds(ranges: Sequence[SeqRange]) -> list[int]:
    """The sorted bounds `lo_1, hi_1 + 1, lo_2, hi_2 + 1, ...` that PostgreSQL's
    `width_bucket(seq, thresholds)` maps to slot 2k-1 for a seq in range k and to an even slot
    between ranges. The last `hi + 1` is left out when it would overflow a bigint (seqs above
    the last range are pruned anyway). Requires sorted, disjoint ranges."""
    thresholds: list[int] = []
    for seqs in ranges:
        thresholds.append(seqs.lo)
        if seqs.hi < MAX_SEQ:
            thresholds.append(seqs.hi + 1)
    return thresholds


def check_disjoint(ranges: Sequence[SeqRange]) -> None:
    """Require `ranges` non-empty, sorted and pairwise disjoint (a record must count once)."""
    if not ranges:
        raise GeoInputError("ranges: expected at least one, got none")
    for before, after in pairwise(ranges):
        if after.lo <= before.hi:
            raise GeoInputError(
                f"ranges: expected sorted, disjoint ranges, got {before} before {after}"
            )


async def fingerprint_ranges(
    shards: Sequence[Any],
    stream: str,
    ranges: Sequence[SeqRange],
    buckets: int,
    horizons: Mapping[str, int],
) -> list[RangeFingerprint]:
    """The fingerprint of each range of `stream` over `shards` (asyncpg pools: the region's read
    ring), in the order of `ranges`, each cut into at most `buckets` buckets, leaving out each
    record below its tenant's hlc in `horizons` (tenants not in it: none).

    Requires a stream named `<region>/<node>`, sorted disjoint ranges and buckets >= 1; raises
    GeoInputError otherwise, before any query. asyncpg errors propagate as they come.
    """
    region, node = stream_parts(stream)
    check_disjoint(ranges)
    widths = [bucket_width(seqs, buckets) for seqs in ranges]
    arguments = (
        region,
        node,
        ranges[0].lo,
        ranges[-1].hi,
        range_thresholds(ranges),
        [seqs.lo for seqs in ranges],
        widths,
        FINGERPRINT_DOMAIN,
        *horizon_arrays(horizons),
    )
    per_shard = await asyncio.gather(*(pool.fetch(FINGERPRINT_SQL, *arguments) for pool in shards))
    counts = [[0] * bucket_count(seqs, width) for seqs, width in zip(ranges, widths, strict=True)]
    sums = [[0] * len(row) for row in counts]
    for rows in per_shard:
        for row in rows:
            index, bucket = int(row["ord"]) - 1, int(row["bucket"])
            counts[index][bucket] += int(row["records"])
            sums[index][bucket] = (sums[index][bucket] + int(row["hash_sum"])) % HASH_MODULUS
    return [
        RangeFingerprint(seqs, width, tuple(c), tuple(h))
        for seqs, width, c, h in zip(ranges, widths, counts, sums, strict=True)
    ]


def horizon_arrays(horizons: Mapping[str, int]) -> tuple[list[str], list[int]]:
    """`horizons` as the parallel tenant and hlc arrays the queries unnest."""
    tenants = sorted(horizons)
    return tenants, [horizons[tenant] for tenant in tenants]
