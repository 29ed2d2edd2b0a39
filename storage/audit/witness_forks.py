"""Witnesses that refused the region's log as a fork or a rollback, marked on their row of
`audit_witness_health` (migration 0011) until an operator clears the mark.

A fork is never retried into silence: the marked witness is skipped by attestation (its answer
would only repeat) and audit_fork_detected stays 1 for it, so the AuditForkDetected alert fires
until someone has compared the witness's checkpoint with the log's and reset it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

MARK_FORK = """
INSERT INTO audit_witness_health (witness, fork_detected_at, fork_detail)
VALUES ($1, now(), $2)
ON CONFLICT (witness) DO UPDATE
SET fork_detected_at = COALESCE(audit_witness_health.fork_detected_at, now()),
    fork_detail = EXCLUDED.fork_detail
"""
SELECT_FORKS = """
SELECT witness, fork_detected_at, fork_detail FROM audit_witness_health
WHERE fork_detected_at IS NOT NULL ORDER BY witness
"""
# Clearing a fork also closes the breaker: the witness is tried afresh at the next checkpoint.
CLEAR_FORK = """
UPDATE audit_witness_health
SET fork_detected_at = NULL, fork_detail = NULL, consecutive_failures = 0, open_until = NULL
WHERE witness = $1
RETURNING witness
"""


@dataclass(frozen=True)
class ForkMark:
    """A witness marked as having refused the log, since when, and what it said."""

    witness: str
    detected_at: datetime
    detail: str


async def mark_fork(db: Any, witness: str, detail: str) -> None:
    """Mark `witness` (keeps the time of the first detection, updates the detail)."""
    await db.execute(MARK_FORK, witness, detail)


async def forked_witnesses(db: Any) -> list[ForkMark]:
    """Every witness marked, by name."""
    rows = await db.fetch(SELECT_FORKS)
    return [ForkMark(r["witness"], r["fork_detected_at"], r["fork_detail"]) for r in rows]


async def clear_fork(db: Any, witness: str) -> bool:
    """Clear `witness`'s mark and breaker; False when the region has no row for it."""
    return await db.fetchval(CLEAR_FORK, witness) is not None
