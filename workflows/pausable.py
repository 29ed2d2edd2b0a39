"""Pausing CRR workflows: the pause/resume signals both share, and a listing activity (which
long-polls for work) that a pause must not wait for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

_T = TypeVar("_T")
_Progress = TypeVar("_Progress", bound=BaseModel)

RUN_TIMEOUT = timedelta(minutes=30)
"""Start-to-close timeout of a run activity. A run heartbeats at least every 2 s, so a dead worker
is noticed within its heartbeat timeout; this only bounds a run that is alive but stuck."""


async def unless_paused(
    handle: workflow.ActivityHandle[_T], paused: Callable[[], bool]
) -> _T | None:
    """The activity's result, or None when `paused()` became true first (the activity is then
    cancelled; it heartbeats while it waits, so the cancellation reaches it promptly).

    An activity started with WAIT_CANCELLATION_COMPLETED may answer the cancellation by
    finishing with what it got done so far: that result is returned, as it happened.
    """
    await workflow.wait_condition(lambda: paused() or handle.done())
    if handle.done():
        return handle.result()
    handle.cancel()
    result: _T | None = None
    with contextlib.suppress(ActivityError, CancelledError):
        result = await handle
    # A cancellation of the workflow itself while it waits here is absorbed by the activity's
    # (already requested) cancellation: asyncio hands the awaiting task the activity's outcome.
    # Raise it again, or the workflow would carry on as merely paused.
    current = asyncio.current_task()
    if current is not None and current.cancelling():
        raise asyncio.CancelledError
    return result


class _ErrorState(Protocol):
    last_error: str | None


class PausableWorkflow:
    """Base of the CRR workflows: `pause` stops at the next step boundary (a listing in flight is
    cancelled), `resume` goes on and clears the error that paused the workflow, if any."""

    _paused: bool
    _state: _ErrorState

    async def _run_unless_paused(
        self, handle: workflow.ActivityHandle[_Progress], progress: type[_Progress], what: str
    ) -> _Progress | None:
        """A run activity's result, which is also its progress: how far it got.

        On a pause the run is cancelled and what it reports having done is returned (None if it
        said nothing). A failure that retrying cannot fix pauses the workflow with the error as
        `last_error`, and returns the progress the failure's details carry (or None).
        """
        try:
            return await unless_paused(handle, lambda: self._paused)
        except ActivityError as exc:
            self._pause_on_failure(exc, what)
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.details:
                return progress.model_validate(cause.details[0])
            return None

    def _pause_on_failure(self, failure: ActivityError, what: str) -> None:
        """A failure retrying cannot fix: stop, keep it as `last_error`, wait for an operator."""
        self._state.last_error = str(failure.cause or failure)
        self._paused = True
        workflow.logger.error("%s paused: %s", what, self._state.last_error)

    @workflow.signal
    def pause(self) -> None:
        """Stop until `resume`: a listing in flight is abandoned, a run is cancelled and stops
        where it is. The pause survives continue-as-new."""
        self._paused = True

    @workflow.signal
    def resume(self) -> None:
        """Go on from where the workflow stopped, clearing the error that paused it, if any."""
        self._paused = False
        self._state.last_error = None
