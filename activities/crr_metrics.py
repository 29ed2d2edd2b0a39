"""CRR metrics (names fixed by the CRR contract; alerts in deploy/prometheus/ use them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LAG_SECONDS = Gauge(
    "wal_crr_lag_seconds",
    "Age of the oldest record of a source stream not yet applied at the target region.",
    ["source", "target"],
)
SHIP_ERRORS = Counter(
    "wal_ship_errors_total",
    "Failed segment or manifest uploads, by target region and reason.",
    ["region", "target", "reason"],
)
REPLAY_APPLIED = Counter(
    "wal_replay_applied_total",
    "Records applied to the target region's dedup store by replay.",
    ["source", "target"],
)
SEGMENTS_SHIPPED = Counter(
    "wal_ship_segments_total", "Segments committed (manifest written).", ["region", "target"]
)
BYTES_SHIPPED = Counter(
    "wal_ship_bytes_total",
    "Segment bytes shipped, raw and compressed.",
    ["region", "target", "kind"],
)
COMPRESSION_RATIO = Gauge(
    "wal_ship_compression_ratio",
    "Raw over compressed bytes of the last shipped segment.",
    ["region"],
)
MANIFEST_GAP = Gauge(
    "wal_crr_manifest_gap",
    "1 while replay is blocked by a missing manifest that later ones follow, else 0.",
    ["source", "target"],
)
MANIFEST_GAP_SECONDS = Gauge(
    "wal_crr_manifest_gap_seconds",
    "How long replay has been blocked by the current manifest gap.",
    ["source", "target"],
)
STORE_MISSING_OBJECTS = Gauge(
    "wal_crr_store_missing_objects",
    "Manifests and segments a ship target lacks that a peer target holds, or that no target holds,"
    " and that the shipper's store audit could not repair (its latest full round).",
    ["region", "target"],
)
