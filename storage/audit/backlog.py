"""What waits to be anchored, for the backlog metrics and the SLO (`audit_backlog_segments`,
`audit_backlog_age_seconds`): both read from the partial indexes over unappended rows."""

from __future__ import annotations

from typing import Any

from ledger.audit_models import Backlog

SELECT_BACKLOG = """
SELECT (SELECT count(*) FROM audit_segments WHERE appended_at IS NULL) AS segments,
       (SELECT count(*) FROM audit_leaves WHERE idx IS NULL) AS leaves,
       (SELECT min(acked_at) FROM audit_leaves WHERE idx IS NULL) AS oldest
"""


async def backlog(control_db: Any) -> Backlog:
    """Enriched segments and leaves not yet appended, and the oldest such leaf's ack time."""
    row = await control_db.fetchrow(SELECT_BACKLOG)
    return Backlog(
        segments=row["segments"], leaves=row["leaves"], oldest_unanchored_acked_at=row["oldest"]
    )
