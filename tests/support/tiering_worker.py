"""A worker of the tiering queue's real registration (DemotionWorkflow, RestoreWorkflow and their
activities) in the test process, for as long as a test needs it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from temporalio.client import Client

from ledger.config import Settings
from tests.support.queue_worker import registered_worker
from workflows import queues


@contextlib.asynccontextmanager
async def tiering_worker(
    client: Client, settings: Settings, task_queue: str | None = None
) -> AsyncIterator[str]:
    """The tiering queue's real registration on `task_queue` (default: a queue of its own)."""
    async with registered_worker(client, settings, queues.TIERING, task_queue) as name:
        yield name
