"""Operator control of CRR from a Temporal client: start every shipper and replayer (idempotent),
pause and resume them, and collect their status."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError

from activities.crr_models import Follow, LongPoll
from ledger import search_attributes
from ledger.config import Settings
from ledger.stream_id import StreamId
from workflows import queues
from workflows.replay_wal import (
    ReplayStatus,
    ReplayWalInput,
    ReplayWalWorkflow,
    replay_workflow_id,
)
from workflows.ship_wal import ShipStatus, ShipWalInput, ShipWalWorkflow, ship_workflow_id

QUERY_TIMEOUT = timedelta(seconds=5)
# A shipper's run notices a pause at its next heartbeat (the worker sends one every 2 s at most)
# and stops within the commit under way; this bounds a worker that is down or stuck.
PAUSE_ACK_TIMEOUT = timedelta(seconds=30)
GEO_REGION = SearchAttributeKey.for_keyword(search_attributes.GEO_REGION)
GEO_STREAM = SearchAttributeKey.for_keyword(search_attributes.GEO_STREAM)


@dataclass(frozen=True)
class CrrWorkflowRef:
    kind: str  # "ship" | "replay"
    workflow_id: str
    region: str  # the region whose workflow it is (shipper: source; replayer: target)
    stream: StreamId
    target: str | None = None


def crr_workflows(settings: Settings, region: str | None = None) -> list[CrrWorkflowRef]:
    """Every shipper (one per stream) and replayer (one per stream and target region other than
    the stream's own; a lost node's stream into its own region too), optionally only those of
    `region`."""
    refs: list[CrrWorkflowRef] = []
    for source_region, config in settings.regions.items():
        for node in config.nodes:
            stream = StreamId(source_region, node.name)
            if region in (None, source_region):
                refs.append(
                    CrrWorkflowRef(
                        "ship", ship_workflow_id(source_region, node.name), source_region, stream
                    )
                )
            refs += [
                _replayer(stream, target)
                for target in config.ship_targets
                if target != source_region and region in (None, target)
            ]
        # A lost node's stream: nothing is left to ship, and every receiving region replays
        # what was shipped, its own region too (its own copy went with the disks).
        refs += [
            _replayer(StreamId(source_region, lost), target)
            for lost in config.lost_nodes
            for target in config.ship_targets
            if region in (None, target)
        ]
    return refs


def _replayer(stream: StreamId, target: str) -> CrrWorkflowRef:
    workflow_id = replay_workflow_id(stream.region, stream.node, target)
    return CrrWorkflowRef("replay", workflow_id, target, stream, target)


async def start_crr(
    client: Client, settings: Settings, region: str | None = None, restart: bool = False
) -> list[str]:
    """Ensure each CRR workflow runs; an already running one is left alone. Returns the ids.

    With `restart`, running ones are terminated first and started afresh. That is always safe:
    a new shipper reads its watermark from the manifests in the store and a new replayer its
    position from the dedup store, so nothing is shipped or applied twice (the way out of a
    workflow stuck on code it can no longer replay)."""
    started: list[str] = []
    for workflow_id in _lost_shippers(settings, region):
        # Its node's queue has no worker any more: the shipper would wait there for good.
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(workflow_id).terminate("its node's disk was lost")
    for ref in crr_workflows(settings, region):
        if restart:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(ref.workflow_id).terminate("crr start --restart")
        source_region, node = ref.stream.region, ref.stream.node
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(GEO_REGION, ref.region),
                SearchAttributePair(GEO_STREAM, str(ref.stream)),
            ]
        )
        poll = LongPoll(wait_s=settings.crr.idle_wait_s, interval_s=settings.crr.poll_interval_s)
        if ref.kind == "ship":
            ship = ShipWalInput(
                region=source_region,
                node=node,
                poll=poll,
                max_concurrent_uploads=settings.crr.max_concurrent_uploads,
                store_audit_interval_s=settings.crr.store_audit_interval_s,
            )
            await client.start_workflow(
                ShipWalWorkflow.run,
                ship.model_copy(
                    update={"follow": _follow(settings, poll, ship.segments_per_round)}
                ),
                id=ref.workflow_id,
                task_queue=queues.CRR,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=attributes,
            )
        else:
            assert ref.target is not None
            replay = ReplayWalInput(
                source_region=source_region, source_node=node, into_region=ref.target, poll=poll
            )
            batch = replay.manifests_per_round
            await client.start_workflow(
                ReplayWalWorkflow.run,
                replay.model_copy(update={"follow": _follow(settings, poll, batch)}),
                id=ref.workflow_id,
                task_queue=queues.CRR,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=attributes,
            )
        started.append(ref.workflow_id)
    return started


def _lost_shippers(settings: Settings, region: str | None) -> list[str]:
    return [
        ship_workflow_id(source, lost)
        for source, config in settings.regions.items()
        if region in (None, source)
        for lost in config.lost_nodes
    ]


def _follow(settings: Settings, poll: LongPoll, batch: int) -> Follow:
    """How long one run follows its stream (the crr.follow_* settings)."""
    return Follow(
        poll=poll,
        idle_s=settings.crr.follow_idle_s,
        max_s=settings.crr.follow_max_s,
        max_items=settings.crr.follow_max_segments,
        batch=batch,
    )


async def signal_crr(
    client: Client, settings: Settings, signal: str, region: str | None = None
) -> list[str]:
    """Send `pause` or `resume` to every CRR workflow (of `region`); return those reached.

    A pause returns once each workflow reached reports itself paused, i.e. nothing more ships or
    applies from then on (a shipper's run in flight has stopped); raises TimeoutError naming the
    workflows that did not within PAUSE_ACK_TIMEOUT.
    """
    reached: list[str] = []
    for ref in crr_workflows(settings, region):
        handle: WorkflowHandle[object, object] = client.get_workflow_handle(ref.workflow_id)
        try:
            await handle.signal(signal)
        except RPCError:
            continue  # not running: nothing to pause or resume
        reached.append(ref.workflow_id)
    if signal == "pause":
        await _until_paused(client, reached)
    return reached


async def _until_paused(client: Client, workflow_ids: list[str]) -> None:
    deadline = time.monotonic() + PAUSE_ACK_TIMEOUT.total_seconds()
    waiting = list(workflow_ids)
    while waiting:
        statuses = [await _paused(client, workflow_id) for workflow_id in waiting]
        waiting = [w for w, paused in zip(waiting, statuses, strict=True) if paused is False]
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(
                f"paused, but still shipping or applying after {PAUSE_ACK_TIMEOUT}: {waiting}"
            )
        if waiting:
            await asyncio.sleep(0.1)


async def _paused(client: Client, workflow_id: str) -> bool | None:
    """The workflow's own `paused`, None when it is not running (nothing ships then)."""
    handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)
    try:
        status: _PausedStatus = await handle.query(
            "status", result_type=_PausedStatus, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError:
        return None
    return status.paused


class _PausedStatus(BaseModel):
    """The part of ShipStatus and ReplayStatus a pause waits on."""

    paused: bool


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
