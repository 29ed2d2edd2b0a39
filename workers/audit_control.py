"""Operator control of the audit pipeline from a Temporal client: start each region's anchor
workflow (idempotent), ask for its status, and nudge it (anchor now, retry, attest)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError

from activities.audit_models import AnchorLogInput, AnchorSettings, AnchorStatus
from ledger import search_attributes
from ledger.config import Settings
from workflows import queues
from workflows.audit_anchor import AnchorLogWorkflow
from workflows.audit_ids import anchor_workflow_id

QUERY_TIMEOUT = timedelta(seconds=5)
GEO_REGION = SearchAttributeKey.for_keyword(search_attributes.GEO_REGION)


def regions_of(settings: Settings, region: str | None) -> list[str]:
    """`[region]` when given (it must be configured), else every configured region.

    Raises KeyError naming the configured regions for an unknown one.
    """
    if region is None:
        return list(settings.regions)
    if region not in settings.regions:
        raise KeyError(f"unknown region {region!r}; configured: {', '.join(settings.regions)}")
    return [region]


def anchor_settings(settings: Settings) -> AnchorSettings:
    """The [audit] settings an anchor workflow is started with."""
    audit = settings.audit
    return AnchorSettings(
        batch_max_leaves=audit.batch_max_leaves,
        batch_max_age_s=audit.batch_max_age_s,
        discover_wait_s=audit.discover_wait_s,
        segments_per_round=audit.segments_per_round,
        task_max_attempts=audit.task_max_attempts,
    )


async def start_audit(
    client: Client,
    settings: Settings,
    region: str | None = None,
    restart: bool = False,
    task_queue: str = queues.AUDIT,
) -> list[str]:
    """Ensure each region's AnchorLogWorkflow runs (on `task_queue`); a running one is left
    alone. Returns the ids.

    With `restart`, running ones are terminated first and started afresh with the current
    [audit] settings. Always safe: a new anchor workflow takes its cursors from the region's
    audit tables and every task is idempotent, so nothing is appended twice.
    """
    started: list[str] = []
    for name in regions_of(settings, region):
        workflow_id = anchor_workflow_id(name)
        if restart:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(workflow_id).terminate("audit start --restart")
        await client.start_workflow(
            AnchorLogWorkflow.run,
            AnchorLogInput(region=name, settings=anchor_settings(settings)),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes([SearchAttributePair(GEO_REGION, name)]),
        )
        started.append(workflow_id)
    return started


async def anchor_status(client: Client, region: str) -> AnchorStatus | None:
    """The anchor workflow's own view of `region`; None when it is not running."""
    handle = client.get_workflow_handle(anchor_workflow_id(region))
    try:
        status: AnchorStatus = await handle.query(
            AnchorLogWorkflow.status, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError:
        return None
    return status


async def signal_anchor(client: Client, region: str, signal: str) -> bool:
    """Send `signal` (workflows/audit_ids.py) to `region`'s anchor workflow; False when it is not
    running."""
    try:
        await client.get_workflow_handle(anchor_workflow_id(region)).signal(signal)
    except RPCError:
        return False
    return True
