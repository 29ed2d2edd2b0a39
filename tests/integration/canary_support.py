"""Probe workers for the canary tests: one worker per build of a fresh deployment on a fresh task
queue, each in its own SDK runtime (as in its own process) so its temporal_* metrics carry its
build id, served on a /metrics port of its own; short probe workflows (AUTO_UPGRADE) and a
long-running pinned one, and the real ReplayWalWorkflow as a versioned worker pins it;
traffic; and the deployment's routing."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    PinnedVersioningOverride,
    RetryPolicy,
    VersioningBehavior,
    WorkerDeploymentVersion,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities import canary
from ledger.config import Settings
from ledger.deployment_routing import Routing
from storage.deployments.routing import route_to, routing_of
from storage.embedded.process import free_port
from storage.faults import fail_point
from workers.deployment import deployment_config, metric_tags, versioned_workflows
from workflows.canary import CanaryWorkflow
from workflows.replay_wal import ReplayWalWorkflow

PROBE_FAULT = "canary-probe"
PROBE_RETRY = RetryPolicy(maximum_attempts=1)


class ProbeActivities:
    """The probe's activity, run by the worker of one build: it answers with that build."""

    def __init__(self, build_id: str) -> None:
        self._build = build_id

    @activity.defn(name="canary_probe")
    async def probe(self) -> str:
        fail_point(f"{PROBE_FAULT}:{self._build}")  # GEOLEDGER_FAIL_AT names a bad build
        return self._build


@workflow.defn(sandboxed=False)
class ProbeWorkflow:
    """Short: one activity. AUTO_UPGRADE, the versioned worker's default."""

    @workflow.run
    async def run(self) -> str:
        return str(
            await workflow.execute_activity(
                "canary_probe",
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=PROBE_RETRY,
            )
        )


@workflow.defn(sandboxed=False)
class WaitingProbeWorkflow:
    """Waits for `go`, then runs the probe: which build ran it tells where the workflow is."""

    def __init__(self) -> None:
        self._go = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._go)
        return str(
            await workflow.execute_activity(
                "canary_probe",
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=PROBE_RETRY,
            )
        )

    @workflow.signal
    def go(self) -> None:
        self._go = True


@workflow.defn(
    name="PinnedProbeWorkflow", sandboxed=False, versioning_behavior=VersioningBehavior.PINNED
)
class PinnedProbeWorkflow(WaitingProbeWorkflow):
    """The same, PINNED like the CRR tailers."""

    @workflow.run
    async def run(self) -> str:
        return await super().run()


@dataclass(frozen=True)
class Probes:
    address: str
    queue: str
    deployment: str

    def metrics_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/metrics"


@contextlib.asynccontextmanager
async def build_worker(settings: Settings, probes: Probes, build_id: str) -> AsyncIterator[str]:
    """Run build `build_id` of the probe deployment; yield its /metrics URL."""
    version = WorkerDeploymentVersion(deployment_name=probes.deployment, build_id=build_id)
    port = free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"),
            global_tags=metric_tags(version),
        )
    )
    client = await Client.connect(
        probes.address,
        namespace=settings.temporal.namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
    worker = Worker(
        client,
        task_queue=probes.queue,
        # ReplayWalWorkflow as a versioned worker registers it in production (its PINNED
        # variant): without its activities here, a run waits on its first one, still running.
        workflows=[
            ProbeWorkflow,
            WaitingProbeWorkflow,
            PinnedProbeWorkflow,
            *versioned_workflows([ReplayWalWorkflow], version),
        ],
        activities=[ProbeActivities(build_id).probe],
        deployment_config=deployment_config(version),
    )
    async with worker:
        yield probes.metrics_url(port)


@contextlib.asynccontextmanager
async def canary_worker(client: Client) -> AsyncIterator[str]:
    """A worker of CanaryWorkflow and its activities on a fresh queue; yield the queue."""
    queue = f"canary-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[CanaryWorkflow],
        activities=[canary.set_ramp, canary.analyze, canary.roll_back],
    ):
        yield queue


async def make_current(client: Client, deployment: str, build_id: str) -> None:
    """Make `build_id` current once its worker has polled (the server knows it only then)."""
    for _ in range(100):
        try:
            await route_to(client, deployment, build_id, 100)
            return
        except RPCError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"{deployment}:{build_id} never became current")


async def registered(client: Client, deployment: str, *builds: str) -> None:
    """Wait until the server knows every build of the deployment (their workers polled)."""
    for _ in range(100):
        try:
            described = await client.workflow_service.describe_worker_deployment(
                DescribeWorkerDeploymentRequest(
                    namespace=client.namespace, deployment_name=deployment
                )
            )
        except RPCError:
            described = None
        if described is not None:
            summaries = described.worker_deployment_info.version_summaries
            if set(builds) <= {summary.deployment_version.build_id for summary in summaries}:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{deployment}: builds {builds} never registered")


async def start_pinned_to(
    client: Client, probes: Probes, build_id: str
) -> WorkflowHandle[PinnedProbeWorkflow, str]:
    """A PinnedProbeWorkflow pinned to `build_id` from its start (as if started while it ramped).
    The server refuses the pin until the build's membership of the queue has propagated."""
    version = WorkerDeploymentVersion(deployment_name=probes.deployment, build_id=build_id)
    for _ in range(100):
        try:
            return await client.start_workflow(
                PinnedProbeWorkflow.run,
                id=f"pinned-{uuid.uuid4().hex}",
                task_queue=probes.queue,
                versioning_override=PinnedVersioningOverride(version),
            )
        except RPCError as exc:
            if exc.status is not RPCStatusCode.FAILED_PRECONDITION:
                raise
            await asyncio.sleep(0.1)
    raise AssertionError(f"{probes.deployment}:{build_id} never took a pinned workflow")


async def routing(client: Client, deployment: str) -> Routing:
    return await routing_of(client, deployment)


@contextlib.asynccontextmanager
async def traffic(client: Client, queue: str, concurrency: int = 8) -> AsyncIterator[list[str]]:
    """Probe workflows started back to back while the block runs; yields the builds that
    answered (a failed probe adds "failed"). In-flight probes finish before it returns."""
    answers: list[str] = []
    stop = asyncio.Event()

    async def one_lane() -> None:
        while not stop.is_set():
            handle = await client.start_workflow(
                ProbeWorkflow.run, id=f"probe-{uuid.uuid4().hex}", task_queue=queue
            )
            try:
                answers.append(await handle.result())
            except Exception:
                answers.append("failed")

    lanes = [asyncio.create_task(one_lane()) for _ in range(concurrency)]
    try:
        yield answers
    finally:
        stop.set()
        await asyncio.gather(*lanes)


async def running_on(client: Client, deployment: str, build_id: str) -> int:
    """How many workflows visibility shows running on the build."""
    query = (
        f"TemporalWorkerDeploymentVersion = '{deployment}:{build_id}' "
        "AND ExecutionStatus = 'Running'"
    )
    return (await client.count_workflows(query)).count


async def pinned_build(handle: WorkflowHandle[Any, Any]) -> tuple[str, int]:
    """The build a running workflow is on and its versioning behaviour (the server's view)."""
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, int(info.behavior)
