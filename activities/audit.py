"""Activities of the audit pipeline (names: activities/names.py, payloads:
activities/audit_models.py and ledger/audit_models.py): thin wrappers over storage/audit/.

- `audit_discover_segments`: the sealed segments of the region's own streams after the cursors,
  waiting (heartbeating) up to `wait_s` for the first.
- `enrich_worm`: one segment's leaves to write-once storage and the audit tables.
- `anchor_batch`: the enriched backlog appended, a checkpoint signed by the region's key; the
  new tiles published to the region's store.
- `attest_external`: the checkpoint to every witness of the region's log.
- `audit_dlq_record`: a task that exhausted its retries, into the dead-letter queue.

Each task is idempotent by its key, so a retry changes nothing; each attempt is timed and its
failures counted in audit_task_seconds / audit_task_failures_total by task type.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit_models import (
    AnchorBatchInput,
    AnchorBatchResult,
    AttestInput,
    AttestResult,
    AuditTaskType,
    DiscoverInput,
    DiscoverResult,
    DlqRecordInput,
    LogHead,
    SegmentToAudit,
)
from activities.heartbeat import with_heartbeats
from activities.names import (
    ANCHOR_BATCH,
    ATTEST_EXTERNAL,
    AUDIT_DISCOVER,
    AUDIT_DLQ_RECORD,
    ENRICH_WORM,
)
from ledger import error_types
from ledger.audit_models import EnrichedSegment
from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.audit import (
    NoteCheckpointSigner,
    append_batch,
    backlog,
    consistency_between,
    dlq_add,
    enrich_segment,
    latest_checkpoint,
    publish_tiles,
)
from storage.audit.anchor_latency import acked_between
from storage.audit.checkpoints import checkpoint_of
from storage.audit.discover import audited_through, segments_after
from storage.audit.errors import AuditForkDetected
from storage.audit.metrics import (
    AUDIT_ANCHOR_LATENCY_SECONDS,
    AUDIT_TASK_FAILURES,
    AUDIT_TASK_SECONDS,
    AUDIT_WITNESS_COSIGNATURES,
)
from storage.audit.witness_attest import attest_checkpoint
from storage.audit.witness_forks import forked_witnesses, mark_fork
from storage.audit.witness_keys import witness_targets
from storage.crr.errors import VerificationError
from storage.crr.region_keys import manifest_public_key, signing_key
from storage.dedup.store import DedupStore
from storage.objectstore import ObjectStore
from storage.objectstore.worm import WormStore
from storage.objectstore.worm_factory import open_worm_store

_T = TypeVar("_T")

# A discovery looks for new manifests this often while it waits.
DISCOVER_POLL_S = 0.25


class AuditResources(Protocol):
    """What the activities need from the worker's shared per-region connections
    (`activities.region_resources.RegionResources` provides it)."""

    async def dedup(self, region: str) -> DedupStore:
        """The dedup store of `region` (its control pool holds the audit tables)."""
        ...

    def store(self, region: str) -> ObjectStore:
        """The object store of `region`."""
        ...


async def _task(task_type: AuditTaskType, work: Awaitable[_T]) -> _T:
    """One attempt of an audit task: heartbeating while it runs (a killed worker is noticed
    within the task's heartbeat timeout), timed, and counted when it fails."""
    started = time.perf_counter()
    try:
        return await with_heartbeats(work)
    except BaseException:
        AUDIT_TASK_FAILURES.labels(type=task_type.value).inc()
        raise
    finally:
        AUDIT_TASK_SECONDS.labels(type=task_type.value).observe(time.perf_counter() - started)


async def _log_head(control: Any) -> LogHead:
    """The latest batch, the log's size and the enriched leaves waiting to be appended."""
    latest = await latest_checkpoint(control)
    waiting = await backlog(control)
    return LogHead(
        latest_batch=0 if latest is None else latest.batch,
        size=0 if latest is None else latest.size,
        waiting_leaves=waiting.leaves,
    )


class AuditActivities:
    """The audit queue's activities, sharing the worker's connections to every region."""

    def __init__(self, settings: Settings, resources: AuditResources) -> None:
        self._settings = settings
        self._resources = resources
        self._worms: dict[str, WormStore] = {}

    async def _control(self, region: str) -> Any:
        return (await self._resources.dedup(region)).pools.control

    def _worm(self, region: str) -> WormStore:
        if region not in self._worms:
            config = self._settings.region(region)
            if config.audit_store is None:
                raise ApplicationError(
                    f"regions.{region}.audit_store is not set: the audit needs write-once storage",
                    type=error_types.AUDIT_CONFIG,
                    non_retryable=True,
                )
            self._worms[region] = open_worm_store(config.audit_store, config.audit_retention_days)
        return self._worms[region]

    @activity.defn(name=AUDIT_DISCOVER)
    async def discover(self, request: DiscoverInput) -> DiscoverResult:
        """The region's sealed segments after the cursors (None: after what its audit tables
        hold), waiting up to `wait_s` for the first."""
        control = await self._control(request.region)
        head = None if request.cursors is not None else await _log_head(control)
        cursors = (
            dict(request.cursors) if request.cursors is not None else await audited_through(control)
        )
        # A lost node's stream too: a region rebuilt on new disks appends it to its log again.
        streams = [
            str(StreamId(request.region, node))
            for node in self._settings.region(request.region).stream_nodes
        ]
        store = self._resources.store(request.region)
        deadline = time.monotonic() + request.wait_s
        while True:
            found = await segments_after(store, streams, cursors, request.limit)
            if found or time.monotonic() >= deadline:
                break
            activity.heartbeat()
            await asyncio.sleep(DISCOVER_POLL_S)
        for each in found:
            cursors[each.stream] = each.ref.last_seq
        return DiscoverResult(
            segments=[
                SegmentToAudit(
                    region=request.region,
                    stream=each.stream,
                    first_seq=each.ref.first_seq,
                    last_seq=each.ref.last_seq,
                    manifest_key=each.ref.key,
                )
                for each in found
            ],
            cursors=cursors,
            head=head,
        )

    @activity.defn(name=ENRICH_WORM)
    async def enrich_worm(self, segment: SegmentToAudit) -> EnrichedSegment:
        """Write the segment's leaves once; a segment that does not verify is not retried."""
        region = self._settings.region(segment.region)
        work = enrich_segment(
            await self._control(segment.region),
            self._resources.store(segment.region),
            self._worm(segment.region),
            segment.region,
            segment.stream,
            segment.first_seq,
            public_key=manifest_public_key(segment.region, region),
        )
        try:
            return await _task(AuditTaskType.ENRICH_WORM, work)
        except VerificationError as exc:
            raise ApplicationError(
                str(exc), type=error_types.VERIFICATION, non_retryable=True
            ) from exc

    @activity.defn(name=ANCHOR_BATCH)
    async def anchor_batch(self, request: AnchorBatchInput) -> AnchorBatchResult:
        """Close batch `batch`: append, sign, publish the new tiles, observe each new leaf's
        anchoring latency."""
        return await _task(AuditTaskType.ANCHOR_BATCH, self._anchor(request))

    async def _anchor(self, request: AnchorBatchInput) -> AnchorBatchResult:
        control = await self._control(request.region)
        signer = NoteCheckpointSigner(
            origin=self._settings.audit.origin(request.region),
            private_key=signing_key(request.region, self._settings.region(request.region)),
        )
        anchored = await append_batch(
            control, batch=request.batch, max_leaves=request.max_leaves, signer=signer
        )
        if anchored.leaves:
            now = datetime.now(UTC)
            latency = AUDIT_ANCHOR_LATENCY_SECONDS.labels(region=request.region)
            for acked_at in await acked_between(control, anchored.old_size, anchored.size):
                latency.observe(max(0.0, (now - acked_at).total_seconds()))
            await publish_tiles(control, self._resources.store(request.region), anchored.size)
        waiting = await backlog(control)
        return AnchorBatchResult(anchored=anchored, waiting=waiting.leaves)

    @activity.defn(name=ATTEST_EXTERNAL)
    async def attest_external(self, request: AttestInput) -> AttestResult:
        """The checkpoint of `batch` to every witness of the region's log not cooling down and
        not marked forked; a new fork is marked and raised (non-retryable)."""
        return await _task(AuditTaskType.ATTEST_EXTERNAL, self._attest(request))

    async def _attest(self, request: AttestInput) -> AttestResult:
        control = await self._control(request.region)
        checkpoint = await checkpoint_of(control, request.batch)
        if checkpoint is None:
            raise ApplicationError(
                f"region {request.region} has no checkpoint of batch {request.batch}",
                type=error_types.AUDIT_CONFIG,
                non_retryable=True,
            )
        forked = {mark.witness for mark in await forked_witnesses(control)}
        result = AttestResult(size=checkpoint.size, cosigned=[], skipped=[], failed=[])

        async def proof_from(old: int) -> list[bytes]:
            return await consistency_between(control, old, checkpoint.size)

        fork: AuditForkDetected | None = None
        for witness in witness_targets(self._settings, self._settings.audit.origin(request.region)):
            if witness.name in forked:
                result.skipped.append(witness.name)
                continue
            config = self._settings.witnesses[witness.name]
            try:
                outcome = await attest_checkpoint(
                    control,
                    witness,
                    batch=request.batch,
                    note=checkpoint.note,
                    size=checkpoint.size,
                    proof_from=proof_from,
                    open_after=config.open_after_failures,
                    cooldown_s=config.cooldown_s,
                )
            except AuditForkDetected as exc:
                await mark_fork(control, witness.name, str(exc))
                result.failed.append(witness.name)
                fork = fork or exc
                continue
            if outcome.cosignature is not None:
                AUDIT_WITNESS_COSIGNATURES.labels(witness=witness.name).inc()
                result.cosigned.append(witness.name)
            elif outcome.skipped:
                result.skipped.append(witness.name)
            else:
                result.failed.append(witness.name)
        if fork is not None:
            # After the other witnesses had their turn: one fork must not cost their
            # cosignatures. The alert reads the mark; the workflow files the error.
            raise ApplicationError(str(fork), type=error_types.AUDIT_FORK, non_retryable=True)
        return result

    @activity.defn(name=AUDIT_DLQ_RECORD)
    async def dlq_record(self, request: DlqRecordInput) -> None:
        """File the task in the region's dead-letter queue (one open row per task)."""
        await dlq_add(
            await self._control(request.region),
            task_type=request.task_type.value,
            idempotency_key=request.idempotency_key,
            workflow_id=request.workflow_id,
            input=request.input,
            error=request.error,
            attempts=request.attempts,
        )
