"""Run one on-demand geo-divergence check and wait for its result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from workflows import queues
from workflows.geo_divergence import (
    GeoDivergenceInput,
    GeoDivergenceResult,
    GeoDivergenceWorkflow,
    on_demand_workflow_id,
)

# A check that has not finished by then is stuck (no worker, a database down): give up.
CHECK_TIMEOUT = timedelta(minutes=30)


async def run_geo_check(
    client: Client, task_queue: str = queues.CRR, request: GeoDivergenceInput | None = None
) -> GeoDivergenceResult:
    """Start `GeoDivergenceWorkflow` under an on-demand id and return its result.

    Raises the client's RPCError or WorkflowFailureError as they come."""
    result: GeoDivergenceResult = await client.execute_workflow(
        GeoDivergenceWorkflow.run,
        request or GeoDivergenceInput(),
        id=on_demand_workflow_id(datetime.now(UTC)),
        task_queue=task_queue,
        execution_timeout=CHECK_TIMEOUT,
    )
    return result
