"""Operator control of canary rollouts from a Temporal client: start CanaryWorkflow for a build
under its deployment's policy, read its status, and promote or abort it through its updates
(answered at once, or refused with the reason)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.canary_models import (
    CanaryInput,
    CanaryPhase,
    CanaryStatus,
    ControlAnswer,
    Decision,
)
from ledger import search_attributes
from ledger.config import Settings
from ledger.deployment_config import CanaryPolicy
from workers.workflow_updates import UpdateRefused, WorkflowNotRunning, execute_control
from workflows import queues
from workflows.canary import CanaryWorkflow
from workflows.canary_ids import canary_workflow_id

QUERY_TIMEOUT = timedelta(seconds=10)
GEO_PHASE = SearchAttributeKey.for_keyword(search_attributes.GEO_PHASE)
CONTROLS = ("promote", "abort")


class CanaryRefused(Exception):
    """No policy lets the deployment ramp, the canary already ran, or the workflow refused a
    control (the message is its reason)."""


def policy_for(settings: Settings, deployment: str) -> CanaryPolicy:
    """The deployment's policy; raises CanaryRefused naming the deployments that may ramp."""
    policies = settings.deployment.policies
    if deployment not in policies:
        allowed = ", ".join(sorted(policies)) or "none"
        raise CanaryRefused(
            f"deployment {deployment!r} may not ramp: it has no [deployment.policies] entry; "
            f"deployments that may: {allowed}"
        )
    return policies[deployment]


async def start_canary(
    client: Client,
    settings: Settings,
    deployment: str,
    build_id: str,
    started_by: str,
    task_queue: str = queues.OPS,
) -> str:
    """Start the build's CanaryWorkflow; return its id."""
    policy = policy_for(settings, deployment)
    workflow_id = canary_workflow_id(deployment, build_id)
    try:
        await client.start_workflow(
            CanaryWorkflow.run,
            CanaryInput(
                deployment=deployment,
                build_id=build_id,
                policy=policy,
                metrics_targets=list(settings.deployment.metrics_targets),
                started_by=started_by,
            ),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            # A build rolled back may be tried again once fixed under the same id.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(GEO_PHASE, CanaryPhase.RAMPING.value)]
            ),
        )
    except WorkflowAlreadyStartedError:
        raise CanaryRefused(f"{workflow_id} is already running") from None
    return workflow_id


def _handle(
    client: Client, deployment: str, build_id: str
) -> WorkflowHandle[CanaryWorkflow, CanaryStatus]:
    return client.get_workflow_handle_for(
        CanaryWorkflow.run, canary_workflow_id(deployment, build_id)
    )


async def canary_status(client: Client, deployment: str, build_id: str) -> CanaryStatus:
    """The workflow's `status` query (answered for a closed run too, from its history)."""
    return await _handle(client, deployment, build_id).query(
        CanaryWorkflow.status, rpc_timeout=QUERY_TIMEOUT
    )


async def control_canary(
    client: Client, deployment: str, build_id: str, control: str, decision: Decision
) -> ControlAnswer:
    """Send `control` (promote or abort) as an update; return the answer. Raises CanaryRefused
    with the validator's reason when the workflow refuses it."""
    if control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; known: {', '.join(CONTROLS)}")
    try:
        return await execute_control(
            _handle(client, deployment, build_id), control, [decision], ControlAnswer
        )
    except UpdateRefused as exc:
        raise CanaryRefused(str(exc)) from None
    except WorkflowNotRunning:
        raise CanaryRefused(
            f"no running canary of {deployment} build {build_id}: nothing to {control}"
        ) from None
