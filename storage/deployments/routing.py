"""A worker deployment's routing through Temporal's deployment API, with a client: read it, ramp a
build or make it current, stop a ramp, and move the workflows pinned to a build onto another.
The canary's activities (activities/canary.py) are thin wrappers over these."""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask
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

from ledger.deployment_routing import Routing

IDENTITY = "geoledger-canary"
# Running workflows pinned to a build are moved in pages of this many.
LIST_PAGE = 100


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


async def route_to(client: Client, deployment: str, build_id: str, percentage: int) -> None:
    """Send `percentage` % of the deployment's new work to the build; 100 makes it current.
    The server refuses a build whose workers have not polled yet (RPCError)."""
    service = client.workflow_service
    if percentage >= 100:
        await service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=client.namespace,
                deployment_name=deployment,
                build_id=build_id,
                identity=IDENTITY,
            )
        )
        return
    await service.set_worker_deployment_ramping_version(
        SetWorkerDeploymentRampingVersionRequest(
            namespace=client.namespace,
            deployment_name=deployment,
            build_id=build_id,
            percentage=float(percentage),
            identity=IDENTITY,
        )
    )


async def stop_ramp(client: Client, deployment: str) -> None:
    """Ramp nothing: every new workflow goes to the current build."""
    await client.workflow_service.set_worker_deployment_ramping_version(
        SetWorkerDeploymentRampingVersionRequest(
            namespace=client.namespace,
            deployment_name=deployment,
            build_id="",
            percentage=0.0,
            identity=IDENTITY,
        )
    )


async def move_pinned(client: Client, deployment: str, build: str, current: str | None) -> int:
    """Pin the running workflows pinned to `build` to `current` instead (to auto-upgrade when
    there is no current build, so unversioned workers take them); return how many moved."""
    query = (
        f"TemporalWorkerDeploymentVersion = '{deployment}:{build}' "
        "AND ExecutionStatus = 'Running' AND TemporalWorkflowVersioningBehavior = 'Pinned'"
    )
    if current is None:
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
