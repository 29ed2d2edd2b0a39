"""Run the smoke workflow with an in-process worker on the ops queue."""

from __future__ import annotations

import time
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from ledger.config import Settings
from workers.registry import registration_for
from workflows import queues
from workflows.smoke import SmokeInput, SmokeResult, SmokeWorkflow


def smoke_workflow_id() -> str:
    return f"smoke-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"


async def run_smoke(
    client: Client, settings: Settings, workflow_id: str, task_queue: str = queues.OPS
) -> SmokeResult:
    registration = registration_for(queues.OPS, settings)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=list(registration.workflows),
        activities=list(registration.activities),
        graceful_shutdown_timeout=timedelta(seconds=5),
    ):
        return await client.execute_workflow(
            SmokeWorkflow.run,
            SmokeInput(regions=sorted(settings.regions)),
            id=workflow_id,
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=2),
        )
