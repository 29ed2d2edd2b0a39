"""Steering a running workflow through one of its updates from a Temporal client (re-sharding,
canary rollouts): the update's answer, the reason its validator refused it, or that no workflow
with the handle's id is running."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

_T = TypeVar("_T")


class UpdateRefused(Exception):
    """The workflow refused the update; the message is its validator's reason."""


class WorkflowNotRunning(Exception):
    """No running workflow has the handle's id: it has ended (or never started)."""


async def execute_control(
    handle: WorkflowHandle[Any, Any], name: str, args: Sequence[Any], result_type: type[_T]
) -> _T:
    """Send update `name` with `args` and return its answer as `result_type`. Raises
    UpdateRefused with the validator's reason, WorkflowNotRunning when the workflow is closed."""
    try:
        answer: _T = await handle.execute_update(name, args=args, result_type=result_type)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        raise UpdateRefused(reason) from None
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        raise WorkflowNotRunning(handle.id) from None
    return answer
