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
# Waits up to the given seconds for a sign of new work; returns early when one comes.
Wake = Callable[[float], Awaitable[object]]


async def long_poll(
    look: Callable[[], Awaitable[_T]],
    found: Callable[[_T], bool],
    poll: LongPoll,
    wake: Wake | None = None,
) -> _T:
    """Call `look` until `found(result)` or `poll.wait_s` has passed; return the last result.

    Between looks it waits `poll.interval_s`, or less when `wake` (a watch for new work) returns
    sooner. `look` decides what was found, so a watch that misses or invents events costs only
    latency: the interval stays the bound on how long new work can go unseen.
    """
    deadline = time.monotonic() + poll.wait_s
    pause = wake or asyncio.sleep
    while True:
        result = await look()
        if found(result) or time.monotonic() >= deadline:
            return result
        activity.heartbeat()
        await pause(min(poll.interval_s, max(0.0, deadline - time.monotonic())))
