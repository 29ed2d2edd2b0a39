"""A worker of one queue's real registration (its workflows and activities, as workers/registry.py
gives them) in the test process, for as long as a test needs it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from ledger.config import Settings
from workers.registry import registration_for


@contextlib.asynccontextmanager
async def registered_worker(
    client: Client, settings: Settings, queue: str, task_queue: str | None = None
) -> AsyncIterator[str]:
    """`queue`'s real workflows and activities on `task_queue` (default: a queue of their own,
    so tests sharing a stack do not take each other's tasks); its name."""
    name = task_queue or f"{queue}-{uuid.uuid4()}"
    registration = registration_for(queue, settings)
    try:
        async with Worker(
            client,
            task_queue=name,
            workflows=list(registration.workflows),
            activities=list(registration.activities),
            graceful_shutdown_timeout=timedelta(seconds=2),
        ):
            yield name
    finally:
        await registration.close()
