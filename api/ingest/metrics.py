"""Prometheus metrics of an ingest node."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

INGEST_RESULTS = Counter(
    "ingest_events_total",
    "Events answered by the ingest API, by result.",
    ["result"],
)
INGEST_REJECTIONS = Counter(
    "ingest_rejected_events_total",
    "Events rejected, by machine-readable reason.",
    ["reason"],
)
INGEST_BATCHES_REFUSED = Counter(
    "ingest_batches_refused_total",
    "Whole requests refused, by error code: the 4xx codes before anything was written; "
    "`unavailable` (503) when the WAL or the dedup store could not take the batch (its events "
    "may be in the WAL: resent, they are duplicates).",
    ["code"],
)
ACK_LATENCY = Histogram(
    "ingest_ack_latency_seconds",
    "From request received to answer ready (verify, WAL fsync, dedup apply).",
    buckets=_LATENCY_BUCKETS,
)
FSYNC_LATENCY = Histogram(
    "wal_fsync_seconds",
    "Duration of one WAL group commit's write and fsync.",
    buckets=_LATENCY_BUCKETS,
)
WAL_GROUP_RECORDS = Histogram(
    "wal_group_commit_records",
    "Records made durable by one fsync (group commit size).",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
BATCH_SIZE = Histogram(
    "ingest_batch_events",
    "Events per POST /v1/events request.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
VERIFY_SECONDS = Histogram(
    "ingest_verify_seconds",
    "Time to verify the signatures of one request.",
    buckets=_LATENCY_BUCKETS,
)
DEDUP_APPLY_SECONDS = Histogram(
    "dedup_apply_seconds",
    "Duration of one set-based dedup apply (one shard's lane: consecutive groups merged).",
    buckets=_LATENCY_BUCKETS,
)
WAL_LAST_SEQ = Gauge("wal_last_seq", "Newest durable sequence number of this node's stream.")
# Unlike the metrics above these carry the node's region themselves; the scrape job of the ingest
# nodes honours it (deploy/prometheus/prometheus.yml), so it is the same `region` label.
THROTTLED = Counter(
    "geoledger_ingest_throttled_total",
    "Requests answered 429 with Retry-After before anything was verified or written, by reason: "
    "tenant_rate (the tenant's bucket could not cover it), node_in_flight (the node's in-flight "
    "budget was spent).",
    ["region", "reason"],
)
REQUESTS_IN_FLIGHT = Gauge(
    "geoledger_ingest_requests_in_flight",
    "Requests of POST /v1/events and GET /v1/events/... being verified, applied or read now.",
    ["region"],
)
APPLY_BACKLOG = Gauge(
    "geoledger_ingest_apply_backlog_records",
    "Records of this node's stream durable in its WAL and not yet applied to the dedup shard, by "
    "shard (its apply lane): grows while the shard does not answer; batches writing to a shard "
    "whose lane is full are answered 503.",
    ["region", "shard"],
)
