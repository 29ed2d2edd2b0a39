"""Waiting helpers for workflow code (deterministic: built on `workflow.wait_condition`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow


async def wait_for_or_timeout(condition: Callable[[], bool], seconds: float) -> None:
    """Sleep `seconds` durably, waking early once `condition` holds (a pause signal, say)."""
    with contextlib.suppress(TimeoutError):
        await workflow.wait_condition(condition, timeout=timedelta(seconds=seconds))
