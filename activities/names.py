"""Activity names, shared by the activities that define them and the workflows that call them
(workflows call activities by name so they never import I/O code)."""

from __future__ import annotations

LIST_SEALED_SEGMENTS = "crr_list_sealed_segments"
SHIP_SEGMENT = "crr_ship_segment"
COMMIT_MANIFEST = "crr_commit_manifest"
READ_SHIP_WATERMARK = "crr_read_ship_watermark"
REPLAY_POSITION = "crr_replay_position"
LIST_MANIFESTS = "crr_list_manifests"
APPLY_SEGMENT = "crr_apply_segment"
REPLAY_RUN = "crr_replay_run"
SHIP_RUN = "crr_ship_run"
REPAIR_STORE = "crr_repair_store"
