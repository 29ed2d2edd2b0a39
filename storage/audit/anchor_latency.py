"""When the leaves a batch appended were acknowledged: what audit_anchor_latency_seconds observes
once per leaf (ack -> in a signed checkpoint), the SLI of the AuditBacklogAge burn-rate alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

SELECT_ACKED_BETWEEN = """
SELECT acked_at FROM audit_leaves WHERE idx >= $1 AND idx < $2
"""


async def acked_between(control_db: Any, old_size: int, size: int) -> list[datetime]:
    """The acknowledgement times of the leaves at indexes old_size .. size-1."""
    rows = await control_db.fetch(SELECT_ACKED_BETWEEN, old_size, size)
    return [row["acked_at"] for row in rows]
