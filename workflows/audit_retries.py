"""Retry policies and timeouts of the audit tasks, and the message a dead-letter entry keeps.

An audit task retries with backoff a bounded number of times (`[audit] task_max_attempts`), then
lands in the dead-letter queue, where an operator sees it (`AuditDLQOverflow`) and replays it
once the fault is fixed: a task that can never succeed must not hide as an endless retry. The
dead-letter write itself retries forever: it is one small row in the region's control database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, RetryState

TASK_TIMEOUT = timedelta(minutes=5)
"""Bounds one attempt of an audit task; a segment's enrichment takes well under a second."""

TASK_HEARTBEAT = timedelta(seconds=10)
"""The tasks heartbeat every 2 s while they run: a killed worker's attempt is retried this long
after it died, not after TASK_TIMEOUT."""

DLQ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)


def task_retry(max_attempts: int, non_retryable: Sequence[str] = ()) -> RetryPolicy:
    """Backoff from 1 s to 1 min, `max_attempts` tries; `non_retryable` error types fail at once."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=max_attempts,
        non_retryable_error_types=list(non_retryable),
    )


def failure_message(exc: ActivityError) -> str:
    """The innermost message of a failed activity, for the operator reading the queue."""
    error: BaseException = exc
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {error}"[:2000]


def attempts_made(exc: ActivityError, max_attempts: int) -> int:
    """How many attempts a failed activity had: all of them, unless it failed non-retryably."""
    return max_attempts if exc.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED else 1
