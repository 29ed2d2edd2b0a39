"""Geo-divergence detection (ARCHITECTURE §3 "Geo-divergence"): the I/O pieces that
`GeoDivergenceWorkflow`'s activities use.

Two regions must hold the same records of every source stream up to the lower of their replay
watermarks. `fingerprint` computes bucketed (count, hash) fingerprints in SQL, `diff` names the
exact records that differ in small ranges, `report` writes the full list to an object store. The
pure parts (seq ranges, their buckets, the bisection) are in `ledger/`.
"""

from storage.geo.diff import (
    Divergence,
    DivergenceKind,
    StreamRecord,
    diff_records,
    fetch_records,
)
from storage.geo.errors import GeoError, GeoReportError
from storage.geo.fingerprint import RangeFingerprint, fingerprint_ranges, record_hash
from storage.geo.report import (
    StreamSection,
    pair_name,
    part_key,
    report_key,
    write_part,
    write_report,
)

__all__ = [
    "Divergence",
    "DivergenceKind",
    "GeoError",
    "GeoReportError",
    "RangeFingerprint",
    "StreamRecord",
    "StreamSection",
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
