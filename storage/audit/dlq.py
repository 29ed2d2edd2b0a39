"""The audit dead-letter queue (`audit_dlq`): tasks that exhausted their retry policy.

One open row per task (task type, idempotency key): a task that lands again while its row is
open adds its attempts to that row. Rows are never deleted: `dlq_mark_replayed` and `dlq_purge`
change the state and keep who purged and why, so the queue is its own audit record.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.audit_models import DlqEntry, DlqState
from storage.audit.errors import DlqEntryNotFound, DlqStateError

COLUMNS = """id, task_type, idempotency_key, workflow_id, input, error, attempts, first_failure,
    last_failure, state, replayed_at, purged_at, purged_by, purge_reason"""
ADD = f"""
INSERT INTO audit_dlq (task_type, idempotency_key, workflow_id, input, error, attempts)
VALUES ($1, $2, $3, $4::jsonb, $5, $6)
ON CONFLICT (task_type, idempotency_key) WHERE state = 'open' DO UPDATE
SET workflow_id = EXCLUDED.workflow_id, input = EXCLUDED.input, error = EXCLUDED.error,
    attempts = audit_dlq.attempts + EXCLUDED.attempts, last_failure = now()
RETURNING {COLUMNS}
"""
LIST = f"""
SELECT {COLUMNS} FROM audit_dlq WHERE $1::text IS NULL OR state = $1 ORDER BY id LIMIT $2
"""
GET = f"SELECT {COLUMNS} FROM audit_dlq WHERE id = $1"
COUNT_OPEN = "SELECT count(*) FROM audit_dlq WHERE state = 'open'"
# Only an open row changes state; a row already replayed is returned as it is (idempotent).
MARK_REPLAYED = f"""
UPDATE audit_dlq SET state = 'replayed', replayed_at = now()
WHERE id = $1 AND state = 'open'
RETURNING {COLUMNS}
"""
PURGE = f"""
UPDATE audit_dlq SET state = 'purged', purged_at = now(), purged_by = $2, purge_reason = $3
WHERE id = $1 AND state = 'open'
RETURNING {COLUMNS}
"""


async def dlq_add(
    control_db: Any,
    *,
    task_type: str,
    idempotency_key: str,
    workflow_id: str,
    input: dict[str, Any],
    error: str,
    attempts: int,
) -> DlqEntry:
    """Record a task that failed `attempts` times; the task's open row counts the attempts of
    every landing. Returns the row as stored."""
    row = await control_db.fetchrow(
        ADD, task_type, idempotency_key, workflow_id, json.dumps(input), error, attempts
    )
    return _entry(row)


async def dlq_list(
    control_db: Any, *, state: DlqState | None = "open", limit: int = 100
) -> list[DlqEntry]:
    """Rows in `state` (None: every state), oldest first, at most `limit`."""
    return [_entry(row) for row in await control_db.fetch(LIST, state, limit)]


async def dlq_count(control_db: Any) -> int:
    """Rows waiting for an operator (state open): what audit_dlq_size exports."""
    return int(await control_db.fetchval(COUNT_OPEN))


async def dlq_get(control_db: Any, entry_id: int) -> DlqEntry | None:
    """The row `entry_id`; None when there is none."""
    row = await control_db.fetchrow(GET, entry_id)
    return None if row is None else _entry(row)


async def dlq_mark_replayed(control_db: Any, entry_id: int) -> DlqEntry:
    """Mark the open row `entry_id` replayed (its task was enqueued again). A row already
    replayed is returned unchanged; a purged one raises DlqStateError."""
    row = await control_db.fetchrow(MARK_REPLAYED, entry_id)
    if row is not None:
        return _entry(row)
    current = await _existing(control_db, entry_id)
    if current.state == "replayed":
        return current
    raise DlqStateError(f"expected DLQ entry {entry_id} open, got {current.state}")


async def dlq_purge(control_db: Any, entry_id: int, *, operator: str, reason: str) -> DlqEntry:
    """Give up on the open row `entry_id`: it stays, as state purged, with `operator` and
    `reason` (both required). Raises DlqStateError when the row is not open."""
    if not operator.strip() or not reason.strip():
        raise DlqStateError(
            f"expected an operator and a reason to purge DLQ entry {entry_id}, got "
            f"operator {operator!r} and reason {reason!r}"
        )
    row = await control_db.fetchrow(PURGE, entry_id, operator, reason)
    if row is not None:
        return _entry(row)
    current = await _existing(control_db, entry_id)
    raise DlqStateError(f"expected DLQ entry {entry_id} open, got {current.state}")


async def _existing(control_db: Any, entry_id: int) -> DlqEntry:
    entry = await dlq_get(control_db, entry_id)
    if entry is None:
        raise DlqEntryNotFound(f"expected a DLQ entry {entry_id}, found none")
    return entry


def _entry(row: Any) -> DlqEntry:
    return DlqEntry.model_validate({**dict(row), "input": json.loads(row["input"])})
