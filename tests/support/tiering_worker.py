"""A worker of the tiering queue's real registration (DemotionWorkflow, RestoreWorkflow and their
activities) in the test process, for as long as a test needs it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from temporalio.client import Client
from temporalio.worker import Worker

from ledger.config import Settings
from workers.registry import registration_for
from workflows import queues


@contextlib.asynccontextmanager
async def tiering_worker(
    client: Client, settings: Settings, task_queue: str | None = None
) -> AsyncIterator[str]:
    """The tiering queue's real workflows and activities on `task_queue` (default: a queue of
    their own, so tests sharing a stack do not take each other's tasks); its name."""
    queue = task_queue or f"tiering-{uuid.uuid4()}"
    registration = registration_for(queues.TIERING, settings)
    try:
        async with Worker(
            client,
            task_queue=queue,
            workflows=list(registration.workflows),
            activities=list(registration.activities),
        ):
            yield queue
    finally:
        await registration.close()
