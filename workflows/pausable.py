"""Pausing CRR workflows: the pause/resume signals both share, and a listing activity (which
long-polls for work) that a pause must not wait for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

_T = TypeVar("_T")


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
    with contextlib.suppress(ActivityError, CancelledError, asyncio.CancelledError):
        return await handle
    return None


class _ErrorState(Protocol):
    last_error: str | None


class PausableWorkflow:
    """Base of the CRR workflows: `pause` stops at the next step boundary (a listing in flight is
    cancelled), `resume` goes on and clears the error that paused the workflow, if any."""

    _paused: bool
    _state: _ErrorState

    @workflow.signal
    def pause(self) -> None:
        self._paused = True

    @workflow.signal
    def resume(self) -> None:
        self._paused = False
        self._state.last_error = None
