"""Listing activities long-poll for work; a pause must not wait for one to finish."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

_T = TypeVar("_T")


async def unless_paused(
    handle: workflow.ActivityHandle[_T], paused: Callable[[], bool]
) -> _T | None:
    """The activity's result, or None when `paused()` became true first (the activity is then
    cancelled; it heartbeats while it waits, so the cancellation reaches it promptly)."""
    await workflow.wait_condition(lambda: paused() or handle.done())
    if handle.done():
        return handle.result()
    handle.cancel()
    with contextlib.suppress(ActivityError, CancelledError, asyncio.CancelledError):
        await handle
    return None
