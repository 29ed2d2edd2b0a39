"""Long polling inside an activity: look for work until some appears or the wait is over,
heartbeating so a worker that dies mid-wait is noticed within the heartbeat timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import activity

from activities.crr_models import LongPoll

_T = TypeVar("_T")


async def long_poll(
    look: Callable[[], Awaitable[_T]], found: Callable[[_T], bool], poll: LongPoll
) -> _T:
    """Call `look` until `found(result)` or `poll.wait_s` has passed; return the last result."""
    deadline = time.monotonic() + poll.wait_s
    while True:
        result = await look()
        if found(result) or time.monotonic() >= deadline:
            return result
        activity.heartbeat()
        await asyncio.sleep(min(poll.interval_s, max(0.0, deadline - time.monotonic())))
