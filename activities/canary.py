"""The canary's activities (ops queue): route a share of a deployment's new work to a build
through Temporal's worker deployment API, read and judge the builds' SDK metrics, and roll a
build back. They use the worker's own client (`activity.client()`); the workflow only decides.
"""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.deployment.v1 import WorkerDeploymentVersion as VersionProto
from temporalio.api.workflow.v1 import VersioningOverride, WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
    UpdateWorkflowExecutionOptionsRequest,
)
from temporalio.client import Client

from activities.canary_analysis import figures, judge
from activities.canary_metrics import CANARY_ROLLBACKS, CANARY_STEP
from activities.canary_models import (
    Analysis,
    AnalyzeInput,
    RampInput,
    RollbackInput,
    RollbackResult,
    RollbackTrigger,
    Routing,
    Snapshot,
    Verdict,
)
from activities.names import CANARY_ANALYZE, CANARY_ROLL_BACK, CANARY_SET_RAMP
from ledger.canary_figures import BuildTotals
from ledger.deployment_config import BUILD_ID_TAG, DEPLOYMENT_TAG
from storage.telemetry.build_metrics import read_builds

IDENTITY = "geoledger-canary"
# Running workflows on a rolled-back build are moved in pages of this many.
LIST_PAGE = 100


@activity.defn(name=CANARY_SET_RAMP)
async def set_ramp(step: RampInput) -> Routing:
    """Route `percentage` % of the deployment's new work to the build (100: make it current).
    Retried until the build's workers have polled: the server refuses a version it has not seen."""
    client = activity.client()
    service = client.workflow_service
    if step.percentage >= 100:
        await service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace,
                deployment_name=step.deployment,
                build_id=step.build_id,
                identity=IDENTITY,
            )
        )
    else:
        await service.set_worker_deployment_ramping_version(
            SetWorkerDeploymentRampingVersionRequest(
                namespace=client.namespace,
                deployment_name=step.deployment,
                build_id=step.build_id,
                percentage=float(step.percentage),
                identity=IDENTITY,
            )
        )
    CANARY_STEP.labels(step.deployment).set(step.percentage)
    for trigger in RollbackTrigger:
        # Exported at 0 from the first ramp, so the first rollback is an increase() to alert on.
        CANARY_ROLLBACKS.labels(step.deployment, trigger.value)
    return await routing_of(client, step.deployment)


@activity.defn(name=CANARY_ANALYZE)
async def analyze(request: AnalyzeInput) -> Analysis:
    """Read the builds' counters; with `since`, judge the window since that reading."""
    reading = await read_builds(
        request.metrics_targets, request.deployment, DEPLOYMENT_TAG, BUILD_ID_TAG
    )
    snapshot = Snapshot(builds=reading.builds, unreachable=reading.unreachable)
    if request.since is None:
        return Analysis(verdict=Verdict.INCONCLUSIVE, reason="first reading", snapshot=snapshot)
    before = request.since.builds
    candidate = figures(
        request.candidate_build,
        _window(reading.builds, before, request.candidate_build),
        request.policy,
    )
    baseline = None
    if request.baseline_build is not None:
        baseline = figures(
            request.baseline_build,
            _window(reading.builds, before, request.baseline_build),
            request.policy,
        )
    verdict, reason = judge(candidate, baseline, request.policy)
    if reading.unreachable:
        reason += f" (not scraped: {', '.join(reading.unreachable)})"
    activity.logger.info("canary %s: %s: %s", request.deployment, verdict.value, reason)
    return Analysis(
        verdict=verdict, reason=reason, candidate=candidate, baseline=baseline, snapshot=snapshot
    )


def _window(now: dict[str, BuildTotals], before: dict[str, BuildTotals], build: str) -> BuildTotals:
    return now.get(build, BuildTotals()).since(before.get(build))


@activity.defn(name=CANARY_ROLL_BACK)
async def roll_back(request: RollbackInput) -> RollbackResult:
    """Ramp 0 (the current build unchanged), and move the running workflows pinned to the build
    onto the current one, so nothing keeps running on it. Idempotent."""
    client = activity.client()
    routing = await routing_of(client, request.deployment)
    if routing.ramping_build == request.build_id:
        await client.workflow_service.set_worker_deployment_ramping_version(
            SetWorkerDeploymentRampingVersionRequest(
                namespace=client.namespace,
                deployment_name=request.deployment,
                build_id="",
                percentage=0.0,
                identity=IDENTITY,
            )
        )
        routing = await routing_of(client, request.deployment)
    moved = await _unpin(client, request.deployment, request.build_id, routing.current_build)
    CANARY_STEP.labels(request.deployment).set(0)
    # Last, so a retried rollback counts once.
    CANARY_ROLLBACKS.labels(request.deployment, request.trigger.value).inc()
    activity.logger.warning(
        "canary %s: build %s rolled back (%d pinned workflows moved): %s",
        request.deployment,
        request.build_id,
        moved,
        request.reason,
    )
    return RollbackResult(routing=routing, moved_workflows=moved)


async def _unpin(client: Client, deployment: str, build: str, current: str | None) -> int:
    query = (
        f"TemporalWorkerDeploymentVersion = '{deployment}:{build}' "
        "AND ExecutionStatus = 'Running' AND TemporalWorkflowVersioningBehavior = 'Pinned'"
    )
    if current is None:
        # No current build to pin to: unversioned workers take them over.
        override = VersioningOverride(auto_upgrade=True)
    else:
        override = VersioningOverride(
            pinned=VersioningOverride.PinnedOverride(
                behavior=VersioningOverride.PinnedOverrideBehavior.PINNED_OVERRIDE_BEHAVIOR_PINNED,
                version=VersionProto(deployment_name=deployment, build_id=current),
            )
        )
    moved = 0
    async for found in client.list_workflows(query, page_size=LIST_PAGE):
        await client.workflow_service.update_workflow_execution_options(
            UpdateWorkflowExecutionOptionsRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=found.id, run_id=found.run_id),
                workflow_execution_options=WorkflowExecutionOptions(versioning_override=override),
                update_mask=FieldMask(paths=["versioning_override"]),
                identity=IDENTITY,
            )
        )
        moved += 1
    return moved


async def routing_of(client: Client, deployment: str) -> Routing:
    """The deployment's current and ramping builds."""
    described = await client.workflow_service.describe_worker_deployment(
        DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment)
    )
    config = described.worker_deployment_info.routing_config
    current = config.current_deployment_version.build_id or None
    ramping = config.ramping_deployment_version.build_id or None
    return Routing(
        current_build=current,
        ramping_build=ramping,
        ramping_percentage=config.ramping_version_percentage if ramping else 0.0,
    )
