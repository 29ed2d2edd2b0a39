"""Heartbeating around long steps, so a step that is merely slow (one big SQL statement, one
large upload) is not mistaken for a dead worker, while a dead worker is noticed within the
activity's heartbeat timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import activity

_T = TypeVar("_T")


async def with_heartbeats(
    work: Awaitable[_T], every_s: float = 2.0, details: Callable[[], Any] | None = None
) -> _T:
    """Await `work`, heartbeating every `every_s` seconds until it finishes.

    A heartbeat replaces the details of the one before: resumable work passes `details` (its
    checkpoint as it stands), so these heartbeats carry it rather than erase it.
    """
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every_s)
            if done:
                return task.result()
            if details is None:
                activity.heartbeat()
            else:
                activity.heartbeat(details())
    finally:
        task.cancel()
