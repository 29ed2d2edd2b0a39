"""Operator control of CRR from a Temporal client: start every shipper and replayer (idempotent),
pause and resume them, and collect their status."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError

from activities.crr_models import LongPoll
from ledger.config import Settings
from workflows import queues
from workflows.replay_wal import (
    ReplayStatus,
    ReplayWalInput,
    ReplayWalWorkflow,
    replay_workflow_id,
)
from workflows.ship_wal import ShipStatus, ShipWalInput, ShipWalWorkflow, ship_workflow_id

QUERY_TIMEOUT = timedelta(seconds=5)
GEO_REGION = SearchAttributeKey.for_keyword("GeoRegion")
GEO_STREAM = SearchAttributeKey.for_keyword("GeoStream")


@dataclass(frozen=True)
class CrrWorkflowRef:
    kind: str  # "ship" | "replay"
    workflow_id: str
    region: str  # the region whose workflow it is (shipper: source; replayer: target)
    stream: str
    target: str | None = None


def crr_workflows(settings: Settings, region: str | None = None) -> list[CrrWorkflowRef]:
    """Every shipper (one per stream) and replayer (one per stream and target region other than
    the stream's own), optionally only those of `region`."""
    refs: list[CrrWorkflowRef] = []
    for source_region, config in settings.regions.items():
        for node in config.nodes:
            stream = f"{source_region}/{node.name}"
            if region in (None, source_region):
                refs.append(
                    CrrWorkflowRef(
                        "ship", ship_workflow_id(source_region, node.name), source_region, stream
                    )
                )
            for target in config.ship_targets:
                if target != source_region and region in (None, target):
                    refs.append(
                        CrrWorkflowRef(
                            "replay",
                            replay_workflow_id(source_region, node.name, target),
                            target,
                            stream,
                            target,
                        )
                    )
    return refs


async def start_crr(
    client: Client, settings: Settings, region: str | None = None, restart: bool = False
) -> list[str]:
    """Ensure each CRR workflow runs; an already running one is left alone. Returns the ids.

    With `restart`, running ones are terminated first and started afresh. That is always safe:
    a new shipper reads its watermark from the manifests in the store and a new replayer its
    position from the dedup store, so nothing is shipped or applied twice (the way out of a
    workflow stuck on code it can no longer replay)."""
    started: list[str] = []
    for ref in crr_workflows(settings, region):
        if restart:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(ref.workflow_id).terminate("crr start --restart")
        source_region, node = ref.stream.split("/", 1)
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(GEO_REGION, ref.region),
                SearchAttributePair(GEO_STREAM, ref.stream),
            ]
        )
        if ref.kind == "ship":
            await client.start_workflow(
                ShipWalWorkflow.run,
                ShipWalInput(
                    region=source_region,
                    node=node,
                    poll=LongPoll(
                        wait_s=settings.crr.idle_wait_s, interval_s=settings.crr.poll_interval_s
                    ),
                    max_concurrent_uploads=settings.crr.max_concurrent_uploads,
                    store_audit_interval_s=settings.crr.store_audit_interval_s,
                ),
                id=ref.workflow_id,
                task_queue=queues.CRR,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=attributes,
            )
        else:
            assert ref.target is not None
            await client.start_workflow(
                ReplayWalWorkflow.run,
                ReplayWalInput(
                    source_region=source_region,
                    source_node=node,
                    into_region=ref.target,
                    poll=LongPoll(
                        wait_s=settings.crr.idle_wait_s, interval_s=settings.crr.poll_interval_s
                    ),
                ),
                id=ref.workflow_id,
                task_queue=queues.CRR,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=attributes,
            )
        started.append(ref.workflow_id)
    return started


async def signal_crr(
    client: Client, settings: Settings, signal: str, region: str | None = None
) -> list[str]:
    """Send `pause` or `resume` to every CRR workflow (of `region`); return those reached."""
    reached: list[str] = []
    for ref in crr_workflows(settings, region):
        handle: WorkflowHandle[object, object] = client.get_workflow_handle(ref.workflow_id)
        try:
            await handle.signal(signal)
        except RPCError:
            continue  # not running: nothing to pause or resume
        reached.append(ref.workflow_id)
    return reached


async def crr_statuses(
    client: Client, settings: Settings
) -> dict[str, ShipStatus | ReplayStatus | None]:
    """Each CRR workflow's own status query, None where it is not running."""
    statuses: dict[str, ShipStatus | ReplayStatus | None] = {}
    for ref in crr_workflows(settings):
        handle: WorkflowHandle[object, object] = client.get_workflow_handle(ref.workflow_id)
        result_type = ShipStatus if ref.kind == "ship" else ReplayStatus
        try:
            statuses[ref.workflow_id] = await handle.query(
                "status", result_type=result_type, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError:
            statuses[ref.workflow_id] = None
    return statuses
