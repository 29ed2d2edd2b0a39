"""Prometheus metrics of re-sharding (issue 13 item 6), each defined once here.

The migrate worker (`geoledger worker run --queue geoledger-migrate`) exports the counter as its
copy runs go; the ops worker (`--queue geoledger-ops`) the gauges, from its sampler
(workers/migrate_sampler.py), which asks every DedupMigrationWorkflow for its progress and counts
each shard's keys on a clock of its own.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MIGRATION_PHASE = Gauge(
    "migration_phase",
    "Stage of a running re-sharding: 0 plan, 1 copy, 2 verify, 3 dual_write, 4 cutover, "
    "5 cleanup, 6 done, -1 rolling back, -2 rolled back.",
    ["id", "region"],
)
MIGRATION_KEYS_COPIED = Counter(
    "migration_keys_copied_total",
    "Keys the copy and catch-up passes of a re-sharding brought to their new shard.",
    ["id", "region"],
)
MIGRATION_VERIFY_MISMATCHES = Gauge(
    "migration_verify_mismatches",
    "Keys the last verify pass of a re-sharding found different on the old and new shard.",
    ["id", "region"],
)
MIGRATION_RATE = Gauge(
    "migration_rate_keys_per_second",
    "The copy throttle of a running re-sharding, in keys per second.",
    ["id", "region"],
)
MIGRATION_AWAITING_OPERATOR = Gauge(
    "migration_awaiting_operator",
    "1 while a re-sharding waits for an approval (cutover or cleanup) or was paused by an "
    "operator, else 0.",
    ["id", "region"],
)
MIGRATION_LAST_PROGRESS = Gauge(
    "migration_last_progress_timestamp_seconds",
    "When a running re-sharding last moved: a chunk done, a phase or an acknowledgement.",
    ["id", "region"],
)
DEDUP_SHARD_KEYS = Gauge(
    "dedup_shard_keys",
    "Keys (winning records) each configured dedup shard of a region holds.",
    ["region", "shard"],
)
