"""The workflow id of a re-sharding run: stable and meaningful (ARCHITECTURE §5), so the web UI
finds `dedup-migrate-<plan id>`."""

from __future__ import annotations

WORKFLOW_ID_PREFIX = "dedup-migrate-"


def migration_workflow_id(plan_id: str) -> str:
    """`dedup-migrate-<plan id>`, e.g. `dedup-migrate-us-2to4-1f3a9c0d`."""
    return f"{WORKFLOW_ID_PREFIX}{plan_id}"
