"""Activity names: one home for the strings the activities register under (`activity.defn(name=…)`)
and the workflows call them by (workflows never import the activities' I/O code).

Here rather than in ledger/ because only activities, workflows and workers use them, and
workflows may import this module (tests/unit/test_import_direction.py). Recorded workflow
histories name these activities: the strings never change. tests/unit/test_cross_boundary_names.py
checks that each one is registered by a worker of workers/registry.py.
"""

from __future__ import annotations

# Cross-region replication: shipping (a node's queue).
SHIP_RUN = "crr_ship_run"
LIST_SEALED_SEGMENTS = "crr_list_sealed_segments"
SHIP_SEGMENT = "crr_ship_segment"
COMMIT_MANIFEST = "crr_commit_manifest"
READ_SHIP_WATERMARK = "crr_read_ship_watermark"
REPAIR_STORE = "crr_repair_store"

# Cross-region replication: replay (the CRR queue).
REPLAY_POSITION = "crr_replay_position"
REPLAY_RUN = "crr_replay_run"
LIST_MANIFESTS = "crr_list_manifests"
APPLY_SEGMENT = "crr_apply_segment"

# The geo-divergence check (the CRR queue).
GEO_WATERMARKS = "geo_watermarks"
GEO_FINGERPRINTS = "geo_fingerprints"
GEO_EXACT_DIFF = "geo_exact_diff"
GEO_WRITE_REPORT = "geo_write_report"

# The smoke workflow (the ops queue).
SMOKE_OBJECT_ROUND_TRIP = "smoke_object_round_trip"

# Demotion of a tenant's bodies down the tiers (the tiering queue).
TIER_PLAN = "tier_plan"
TIER_DEMOTE_BATCH = "tier_demote_batch"
TIER_EXPIRE_BATCH = "tier_expire_batch"

# Restore of an archived cold pack (the tiering queue).
TIER_RESTORE_REQUEST = "tier_restore_request"
TIER_RESTORE_WAIT = "tier_restore_wait"

# The audit pipeline (the audit queue). The three task names are also the `type` label of the
# audit metrics and the task types of the dead-letter queue (activities/audit_models.py).
AUDIT_DISCOVER = "audit_discover_segments"
ENRICH_WORM = "enrich_worm"
ANCHOR_BATCH = "anchor_batch"
ATTEST_EXTERNAL = "attest_external"
AUDIT_DLQ_RECORD = "audit_dlq_record"

# Online re-sharding of a region's dedup ring (the migrate queue).
MIGRATE_BEGIN = "migrate_begin"
MIGRATE_ADVANCE_ROUTE = "migrate_advance_route"
MIGRATE_ROUTE_ACKS = "migrate_route_acks"
MIGRATE_PAIR_RUN = "migrate_pair_run"
MIGRATE_CLEANUP_RUN = "migrate_cleanup_run"
MIGRATE_SEAL_POSITIONS = "migrate_seal_positions"
MIGRATE_CLEAR_POSITIONS = "migrate_clear_positions"
MIGRATE_FINISH = "migrate_finish"

# Canary rollout of a worker build (the ops queue).
CANARY_SET_RAMP = "canary_set_ramp"
CANARY_ANALYZE = "canary_analyze"
CANARY_ROLL_BACK = "canary_roll_back"
