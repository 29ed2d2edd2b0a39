"""Prometheus metrics of the audit pipeline (issue 12 item 8), each defined once here.

The audit worker (`geoledger worker run --queue geoledger-audit`) exports them: the task
counters and histograms as its activities run, the gauges from its sampler
(workers/audit_sampler.py), which reads every region's audit tables on a clock of its own.
`type` is an audit task (`enrich_worm`, `anchor_batch`, `attest_external`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# A task is one segment or one batch: well under a second normally, a slow store or a witness
# timing out reaches tens of seconds.
_TASK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Ack -> leaf in a signed checkpoint. The SLO is 99 % within 1 h, so 3600 must be a bucket
# bound (the burn-rate alert counts the leaves above it); the small ones are for demo speed.
_ANCHOR_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)

AUDIT_BACKLOG_SEGMENTS = Gauge(
    "audit_backlog_segments",
    "Sealed segments of the region's own streams whose leaves are not yet in a checkpoint.",
    ["region"],
)
AUDIT_BACKLOG_AGE_SECONDS = Gauge(
    "audit_backlog_age_seconds",
    "Age of the oldest acknowledged record of the region whose leaf is not yet in a checkpoint.",
    ["region"],
)
AUDIT_DLQ_SIZE = Gauge(
    "audit_dlq_size",
    "Audit tasks in the region's dead-letter queue waiting for an operator (state open).",
    ["region"],
)
AUDIT_TASK_FAILURES = Counter(
    "audit_task_failures_total",
    "Failed attempts of audit tasks, by task type (each retry counts).",
    ["type"],
)
AUDIT_TASK_SECONDS = Histogram(
    "audit_task_seconds",
    "Duration of audit task attempts, by task type, failed ones included.",
    ["type"],
    buckets=_TASK_BUCKETS,
)
AUDIT_CHECKPOINT_SIZE = Gauge(
    "audit_checkpoint_size",
    "Tree size of the region's latest signed checkpoint.",
    ["region"],
)
AUDIT_WITNESS_COSIGNATURES = Counter(
    "audit_witness_cosignatures_total",
    "Checkpoints a witness cosigned, by witness.",
    ["witness"],
)
AUDIT_ANCHOR_LATENCY_SECONDS = Histogram(
    "audit_anchor_latency_seconds",
    "Time from a record's acknowledgement to its leaf in a signed checkpoint, per leaf.",
    ["region"],
    buckets=_ANCHOR_BUCKETS,
)
AUDIT_WITNESS_CIRCUIT_OPEN = Gauge(
    "audit_witness_circuit_open",
    "1 while a witness is skipped after repeated failures (its circuit breaker is open).",
    ["region", "witness"],
)
AUDIT_FORK_DETECTED = Gauge(
    "audit_fork_detected",
    "1 once a witness refused the region's checkpoint as a fork or a rollback, until cleared.",
    ["region", "witness"],
)
