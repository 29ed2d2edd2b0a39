"""Heartbeating around long steps, so a step that is merely slow (one big SQL statement, one
large upload) is not mistaken for a dead worker, while a dead worker is noticed within the
activity's heartbeat timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity

_T = TypeVar("_T")


async def with_heartbeats(work: Awaitable[_T], every_s: float = 2.0) -> _T:
    """Await `work`, heartbeating every `every_s` seconds until it finishes."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every_s)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        task.cancel()
