"""Geo-divergence detection (ARCHITECTURE §3 "Geo-divergence"): the I/O and pure pieces that
`GeoDivergenceWorkflow`'s activities use.

Two regions must hold the same records of every source stream up to the lower of their replay
watermarks. `fingerprint` computes bucketed (count, hash) fingerprints in SQL, `ranges` cuts seq
ranges into buckets, `diff` names the exact records that differ in small ranges, `report` writes
the full list to an object store.
"""

from storage.geo.diff import (
    MAX_DIFF_SEQS,
    Divergence,
    DivergenceKind,
    StreamRecord,
    diff_records,
    fetch_records,
)
from storage.geo.errors import GeoError, GeoInputError, GeoReportError
from storage.geo.fingerprint import RangeFingerprint, fingerprint_ranges, record_hash
from storage.geo.ranges import SeqRange, bucket_count, bucket_of, bucket_range, bucket_width
from storage.geo.report import (
    StreamSection,
    pair_name,
    part_key,
    report_key,
    write_part,
    write_report,
)

__all__ = [
    "MAX_DIFF_SEQS",
    "Divergence",
    "DivergenceKind",
    "GeoError",
    "GeoInputError",
    "GeoReportError",
    "RangeFingerprint",
    "SeqRange",
    "StreamRecord",
    "StreamSection",
    "bucket_count",
    "bucket_of",
    "bucket_range",
    "bucket_width",
    "diff_records",
    "fetch_records",
    "fingerprint_ranges",
    "pair_name",
    "part_key",
    "record_hash",
    "report_key",
    "write_part",
    "write_report",
]
