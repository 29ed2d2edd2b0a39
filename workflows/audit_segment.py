"""AuditSegmentWorkflow: one sealed WAL segment's way into the audit: `enrich_worm` writes its
leaves to write-once storage and the region's audit tables; the region's AnchorLogWorkflow
appends them to the log.

Workflow id `audit-segment-<region>-<node>-<first_seq:020d>` (one per segment, so the web UI
finds it and a second start of the same segment is refused while one runs), task queue
`geoledger-audit`. It is a child of AnchorLogWorkflow, which receives its result; started again
from the dead-letter queue (`geoledger audit dlq replay`) it signals the anchor workflow instead.

`enrich_worm` is idempotent (rows inserted once, the write-once object rewritten only with the
same bytes), so retries and replays change nothing. When it exhausts its retry policy the
segment goes to the dead-letter queue with its input and last error, and the workflow completes
"dead-lettered": that stream's later segments wait behind it in the log (leaves are appended in
each stream's order), the other streams go on, and the backlog alert says so.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.audit_models import (
        AuditSegmentInput,
        AuditSegmentResult,
        AuditTaskType,
        DlqRecordInput,
    )
    from activities.names import AUDIT_DLQ_RECORD, ENRICH_WORM
    from ledger import error_types
    from ledger.audit_models import EnrichedSegment
    from workflows.audit_ids import SEGMENTS_ENRICHED, anchor_workflow_id
    from workflows.audit_retries import (
        DLQ_RETRY,
        TASK_HEARTBEAT,
        TASK_TIMEOUT,
        attempts_made,
        failure_message,
        task_retry,
    )


@workflow.defn
class AuditSegmentWorkflow:
    """Writes one segment's audit leaves once, or files it in the dead-letter queue."""

    @workflow.run
    async def run(self, request: AuditSegmentInput) -> AuditSegmentResult:
        """Enrich the segment (retrying with backoff up to `max_attempts`); on exhaustion,
        record it in the dead-letter queue. Tell the anchor workflow when asked to."""
        segment = request.segment
        try:
            enriched: EnrichedSegment = await workflow.execute_activity(
                ENRICH_WORM,
                segment,
                result_type=EnrichedSegment,
                start_to_close_timeout=TASK_TIMEOUT,
                heartbeat_timeout=TASK_HEARTBEAT,
                retry_policy=task_retry(
                    request.max_attempts, non_retryable=[error_types.VERIFICATION]
                ),
            )
        except ActivityError as exc:
            await self._dead_letter(request, exc)
            return AuditSegmentResult(dead_lettered=True)
        if request.notify_anchor:
            anchor = workflow.get_external_workflow_handle(anchor_workflow_id(segment.region))
            await anchor.signal(SEGMENTS_ENRICHED, enriched.records)
        return AuditSegmentResult(enriched=enriched)

    async def _dead_letter(self, request: AuditSegmentInput, exc: ActivityError) -> None:
        segment = request.segment
        await workflow.execute_activity(
            AUDIT_DLQ_RECORD,
            DlqRecordInput(
                region=segment.region,
                task_type=AuditTaskType.ENRICH_WORM,
                idempotency_key=segment.idempotency_key,
                workflow_id=workflow.info().workflow_id,
                input=segment.model_dump(mode="json"),
                error=failure_message(exc),
                attempts=attempts_made(exc, request.max_attempts),
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DLQ_RETRY,
        )
