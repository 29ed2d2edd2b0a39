"""AnchorLogWorkflow: keeps one region's append-only Merkle log (ARCHITECTURE §3 "Audit").

Round after round it finds the sealed segments of the region's own streams that the audit has not
seen (`audit_discover_segments`: manifests in the region's own store, after its per-stream
cursors), runs one child AuditSegmentWorkflow per segment (`enrich_worm`), and closes a batch
with `anchor_batch` - leaves appended in each stream's order, a checkpoint signed by the region's
key - once `batch_max_leaves` leaves wait or the oldest has waited `batch_max_age_s`; each new
checkpoint then goes to the witnesses (`attest_external`), which cosign it.

Every task is idempotent by its key (segment: stream and first seq; batch: its number), so a
retried or replayed task changes nothing. A task that exhausts its retries lands in the
dead-letter queue: a segment's stream waits behind it, a batch stops anchoring until
`retry_anchor` (a DLQ replay), a witness round is simply the next one's to do (a witness catches
up from the size it last cosigned). A witness that saw a fork (`AuditForkDetected`) is never
retried into silence: the round records it in the dead-letter queue, the alert fires, the log
goes on.

Workflow id `audit-anchor-<region>`, task queue `geoledger-audit`. Continues as new when the
history grows long, carrying its state (cursors, batch number, pending leaves); a continue-as-new
waits for its children first. Payloads carry streams, seqs, counts and hashes, never leaves.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.audit_models import (
        AnchorBatchInput,
        AnchorBatchResult,
        AnchorLogInput,
        AnchorState,
        AnchorStatus,
        AttestInput,
        AttestResult,
        AuditSegmentInput,
        AuditSegmentResult,
        AuditTaskType,
        DiscoverInput,
        DiscoverResult,
        DlqRecordInput,
        LogHead,
        SegmentToAudit,
    )
    from activities.names import ANCHOR_BATCH, ATTEST_EXTERNAL, AUDIT_DISCOVER, AUDIT_DLQ_RECORD
    from ledger import error_types
    from workflows.audit_ids import (
        ANCHOR_NOW,
        ATTEST_NOW,
        RETRY_ANCHOR,
        SEGMENTS_ENRICHED,
        audit_segment_workflow_id,
    )
    from workflows.audit_retries import (
        DLQ_RETRY,
        TASK_HEARTBEAT,
        TASK_TIMEOUT,
        attempts_made,
        failure_message,
        task_retry,
    )
    from workflows.audit_segment import AuditSegmentWorkflow

# Discovery only lists manifests: a store that is down retries until it is back (the backlog
# alert tells), it has nothing to dead-letter.
DISCOVER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


@workflow.defn
class AnchorLogWorkflow:
    """The audit of one region: segments enriched, batches anchored, checkpoints witnessed."""

    _state: AnchorState
    _in_flight: int = 0
    _anchor_requested: bool = False
    _attest_requested: bool = False

    @workflow.init
    def __init__(self, request: AnchorLogInput) -> None:
        self._region = request.region
        self._state = request.state or AnchorState()

    @workflow.run
    async def run(self, request: AnchorLogInput) -> None:
        """Discover, enrich, anchor and attest until the history is long, then continue as new."""
        settings = request.settings
        while not workflow.info().is_continue_as_new_suggested():
            found = await self._discover(settings.segments_per_round, self._discover_wait(request))
            if found.head is not None:
                self._take_over(found.head)
            if found.segments:
                await self._enrich(found.segments, settings.task_max_attempts)
            self._state.cursors = found.cursors
            if self._anchor_due(request):
                await self._anchor(settings.batch_max_leaves, settings.task_max_attempts)
            if self._attest_requested or self._state.attested_batch < self._state.next_batch - 1:
                await self._attest(settings.task_max_attempts)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(request.model_copy(update={"state": self._state}))

    @workflow.query
    def status(self) -> AnchorStatus:
        """Where the region's anchoring stands."""
        return AnchorStatus(
            region=self._region, state=self._state, segments_in_flight=self._in_flight
        )

    @workflow.signal(name=SEGMENTS_ENRICHED)
    def segments_enriched(self, leaves: int) -> None:
        """A segment replayed from the dead-letter queue has its leaves ready."""
        self._add_pending(leaves)

    @workflow.signal(name=RETRY_ANCHOR)
    def retry_anchor(self) -> None:
        """A dead-lettered batch is replayed: try it again."""
        self._state.anchor_blocked = False
        self._anchor_requested = True

    @workflow.signal(name=ATTEST_NOW)
    def attest_now(self) -> None:
        """Send the latest checkpoint to the witnesses at the next round."""
        self._attest_requested = True

    @workflow.signal(name=ANCHOR_NOW)
    def anchor_now(self) -> None:
        """Close a batch at the next round, whatever its size or age."""
        self._anchor_requested = True

    def _discover_wait(self, request: AnchorLogInput) -> float:
        """Wait for new segments no longer than the pending batch may still wait."""
        wait = request.settings.discover_wait_s
        if self._state.pending_since is not None:
            waited = (workflow.now() - self._state.pending_since).total_seconds()
            wait = min(wait, max(0.0, request.settings.batch_max_age_s - waited))
        return 0.0 if self._anchor_requested or self._attest_requested else wait

    async def _discover(self, limit: int, wait_s: float) -> DiscoverResult:
        result: DiscoverResult = await workflow.execute_activity(
            AUDIT_DISCOVER,
            DiscoverInput(
                region=self._region, cursors=self._state.cursors, limit=limit, wait_s=wait_s
            ),
            result_type=DiscoverResult,
            start_to_close_timeout=timedelta(seconds=wait_s + 60),
            heartbeat_timeout=TASK_HEARTBEAT,
            retry_policy=DISCOVER_RETRY,
        )
        return result

    async def _enrich(self, segments: list[SegmentToAudit], max_attempts: int) -> None:
        """One child per segment, all at once (a round is bounded by `segments_per_round`)."""
        self._in_flight = len(segments)
        results = await asyncio.gather(
            *(self._enrich_one(segment, max_attempts) for segment in segments)
        )
        self._in_flight = 0
        for result in results:
            if result.enriched is not None:
                self._state.segments_enriched += 1
                self._add_pending(result.enriched.records)
            else:
                self._state.segments_dead_lettered += 1

    async def _enrich_one(self, segment: SegmentToAudit, max_attempts: int) -> AuditSegmentResult:
        try:
            result: AuditSegmentResult = await workflow.execute_child_workflow(
                AuditSegmentWorkflow.run,
                AuditSegmentInput(segment=segment, max_attempts=max_attempts),
                id=audit_segment_workflow_id(segment.stream, segment.first_seq),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except ChildWorkflowError:
            # Only a child that could not even write its dead-letter entry ends here (it retries
            # that forever): count it as dead-lettered, the stream waits behind it either way.
            return AuditSegmentResult(dead_lettered=True)
        except WorkflowAlreadyStartedError:
            # A replay from the dead-letter queue runs this segment right now; it will signal.
            return AuditSegmentResult()
        return result

    def _take_over(self, head: LogHead) -> None:
        """A run started without state goes on from the log as its tables hold it: batch numbers
        after the latest (a batch number already used returns its old checkpoint, which the
        witnesses, holding newer ones, would refuse as a rollback), the leaves enriched before
        it waiting, and the latest checkpoint sent to the witnesses once more."""
        state = self._state
        if head.latest_batch >= state.next_batch:
            state.next_batch = head.latest_batch + 1
            state.checkpoint_size = head.size
            state.attested_batch = max(state.attested_batch, head.latest_batch - 1)
        self._add_pending(head.waiting_leaves)

    def _add_pending(self, leaves: int) -> None:
        if leaves <= 0:
            return
        if self._state.pending_leaves == 0:
            self._state.pending_since = workflow.now()
        self._state.pending_leaves += leaves

    def _anchor_due(self, request: AnchorLogInput) -> bool:
        state = self._state
        if state.anchor_blocked:
            return False
        if self._anchor_requested:
            return True
        if state.pending_leaves >= request.settings.batch_max_leaves:
            return True
        if state.pending_since is None:
            return False
        waited = (workflow.now() - state.pending_since).total_seconds()
        return waited >= request.settings.batch_max_age_s

    async def _anchor(self, max_leaves: int, max_attempts: int) -> None:
        """Close batches until nothing appendable waits (a big backlog takes several)."""
        self._anchor_requested = False
        while True:
            batch = self._state.next_batch
            request = AnchorBatchInput(region=self._region, batch=batch, max_leaves=max_leaves)
            try:
                result: AnchorBatchResult = await workflow.execute_activity(
                    ANCHOR_BATCH,
                    request,
                    result_type=AnchorBatchResult,
                    start_to_close_timeout=TASK_TIMEOUT,
                    heartbeat_timeout=TASK_HEARTBEAT,
                    retry_policy=task_retry(max_attempts),
                )
            except ActivityError as exc:
                self._state.anchor_blocked = True
                await self._dead_letter(
                    AuditTaskType.ANCHOR_BATCH, f"batch@{batch}", request, exc, max_attempts
                )
                return
            anchored = result.anchored
            self._state.next_batch = batch + 1
            self._state.checkpoint_size = anchored.size
            self._state.checkpoint_root_hex = anchored.root_hex
            self._pending_after(anchored.leaves, result.waiting)
            # Nothing appendable is left (or it waits behind a gap): the next batch is due when
            # more leaves come, or when the waiting ones have waited a batch age again.
            if anchored.leaves == 0 or result.waiting < max_leaves:
                return

    def _pending_after(self, appended: int, waiting: int) -> None:
        """What waits after a batch: leaves behind a gap or the cap keep a clock running."""
        if waiting == 0:
            self._state.pending_leaves = 0
            self._state.pending_since = None
        else:
            self._state.pending_leaves = waiting
            self._state.pending_since = workflow.now()

    async def _attest(self, max_attempts: int) -> None:
        """Send the newest checkpoint to the witnesses."""
        self._attest_requested = False
        batch = self._state.next_batch - 1
        if batch < 1:
            return
        request = AttestInput(region=self._region, batch=batch)
        try:
            await workflow.execute_activity(
                ATTEST_EXTERNAL,
                request,
                result_type=AttestResult,
                start_to_close_timeout=TASK_TIMEOUT,
                heartbeat_timeout=TASK_HEARTBEAT,
                retry_policy=task_retry(max_attempts, non_retryable=[error_types.AUDIT_FORK]),
            )
        except ActivityError as exc:
            # A fork is an alarm, not a retry; other failures: the next round tries again.
            self._state.last_error = failure_message(exc)
            await self._dead_letter(
                AuditTaskType.ATTEST_EXTERNAL, f"attest@{batch}", request, exc, max_attempts
            )
        self._state.attested_batch = batch

    async def _dead_letter(
        self,
        task_type: AuditTaskType,
        key: str,
        request: AnchorBatchInput | AttestInput,
        exc: ActivityError,
        max_attempts: int,
    ) -> None:
        self._state.last_error = failure_message(exc)
        await workflow.execute_activity(
            AUDIT_DLQ_RECORD,
            DlqRecordInput(
                region=self._region,
                task_type=task_type,
                idempotency_key=key,
                workflow_id=workflow.info().workflow_id,
                input=request.model_dump(mode="json"),
                error=self._state.last_error,
                attempts=attempts_made(exc, max_attempts),
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DLQ_RETRY,
        )
