"""`unless_paused` against a real Temporal server: a pause cancels the activity and waits for what
it got done, but a cancellation of the workflow itself, arriving while it waits, still cancels
the workflow instead of being taken for the end of the pause."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.exceptions import CancelledError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from ledger.config import Settings
from workers.client import connect
from workflows.pausable import unless_paused

# Set by the activity once it runs, and once it has seen its cancellation (the workflow is then
# waiting for it to finish).
_started = asyncio.Event()
_cancel_seen = asyncio.Event()
_release = asyncio.Event()


@activity.defn(name="test-pausable-slow-to-cancel")
async def slow_to_cancel() -> str:
    """Heartbeats until cancelled, then finishes only when the test releases it."""
    _started.set()
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        _cancel_seen.set()
        await _release.wait()
        return "partial"


@workflow.defn(name="test-pausable")
class PausableProbe:
    def __init__(self) -> None:
        self._paused = False

    @workflow.run
    async def run(self) -> str:
        handle = workflow.start_activity(
            slow_to_cancel,
            start_to_close_timeout=timedelta(minutes=1),
            heartbeat_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        result = await unless_paused(handle, lambda: self._paused)
        return f"paused with {result}"

    @workflow.signal
    def pause(self) -> None:
        self._paused = True


async def _start_and_pause(client: Client, task_queue: str) -> WorkflowHandle[PausableProbe, str]:
    """A probe whose activity has been cancelled by a pause and is still finishing."""
    for event in (_started, _cancel_seen, _release):
        event.clear()
    handle = await client.start_workflow(
        PausableProbe.run, id=f"pausable-{uuid.uuid4().hex[:8]}", task_queue=task_queue
    )
    await asyncio.wait_for(_started.wait(), timeout=10)
    await handle.signal(PausableProbe.pause)
    await asyncio.wait_for(_cancel_seen.wait(), timeout=10)
    return handle


@pytest.fixture
async def probe_worker(settings: Settings) -> AsyncIterator[tuple[Client, str]]:
    """A client and the task queue of a running worker of the probe workflow and activity."""
    client = await connect(settings)
    task_queue = f"pausable-probe-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[PausableProbe],
        activities=[slow_to_cancel],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield client, task_queue


async def test_a_pause_returns_what_the_cancelled_activity_finished(
    probe_worker: tuple[Client, str],
) -> None:
    client, task_queue = probe_worker
    handle = await _start_and_pause(client, task_queue)
    _release.set()
    assert await asyncio.wait_for(handle.result(), timeout=10) == "paused with partial"


async def test_cancelling_the_workflow_while_a_pause_waits_cancels_the_workflow(
    probe_worker: tuple[Client, str],
) -> None:
    client, task_queue = probe_worker
    handle = await _start_and_pause(client, task_queue)
    await handle.cancel()
    await asyncio.sleep(0.5)
    _release.set()
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), timeout=10)
    assert isinstance(failure.value.cause, CancelledError)
