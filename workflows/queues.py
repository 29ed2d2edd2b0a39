"""Temporal task-queue names (ARCHITECTURE §5). One queue per concern; activities that read a
node's WAL directory run on that node's own queue."""

from __future__ import annotations

CRR = "geoledger-crr"
AUDIT = "geoledger-audit"
TIERING = "geoledger-tiering"
MIGRATE = "geoledger-migrate"
# Operational checks that belong to no pipeline (the stack smoke test).
OPS = "geoledger-ops"

SHARED_QUEUES = (CRR, AUDIT, TIERING, MIGRATE, OPS)


def node_queue(region: str, node: str) -> str:
    """The task queue of the worker that runs beside ingest node `<region>/<node>`."""
    return f"{CRR}-{region}-{node}"
