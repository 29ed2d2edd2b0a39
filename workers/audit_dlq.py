"""Replaying an audit task from the dead-letter queue: the task is enqueued again the way it first
ran, and the entry is marked replayed. Every audit task is idempotent, so a replay of something
that meanwhile succeeded changes nothing.

- enrich_worm: AuditSegmentWorkflow runs again under its own id and, once the segment is
  enriched, signals the region's anchor workflow (`segments_enriched`).
- anchor_batch: the anchor workflow, which stopped anchoring at the failed batch, is signalled
  `retry_anchor`.
- attest_external: the anchor workflow is signalled `attest_now` (the next round sends the
  latest checkpoint; a witness catches up with one consistency proof).
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities.audit_models import AuditSegmentInput, AuditTaskType, SegmentToAudit
from ledger.audit_models import DlqEntry
from ledger.config import Settings
from storage.audit import dlq_get, dlq_mark_replayed
from storage.audit.errors import DlqEntryNotFound, DlqStateError
from workers.audit_ops import control_db
from workflows import queues
from workflows.audit_ids import ATTEST_NOW, RETRY_ANCHOR, anchor_workflow_id
from workflows.audit_segment import AuditSegmentWorkflow


class ReplayRefused(Exception):
    """The entry cannot be replayed (not open, unknown task, workflow gone); nothing changed."""


async def replay_entry(
    client: Client, settings: Settings, region: str, entry_id: int, task_queue: str = queues.AUDIT
) -> DlqEntry:
    """Enqueue entry `entry_id` of `region`'s queue again and mark it replayed.

    Raises ReplayRefused naming why when it is not open or its workflow cannot be reached.
    """
    async with control_db(settings, region) as db:
        entry = await dlq_get(db, entry_id)
        if entry is None:
            raise ReplayRefused(f"region {region} has no DLQ entry {entry_id}")
        if entry.state != "open":
            raise ReplayRefused(f"DLQ entry {entry_id} is {entry.state}, not open")
        await _enqueue(client, settings, region, entry, task_queue)
        try:
            return await dlq_mark_replayed(db, entry_id)
        except (DlqEntryNotFound, DlqStateError) as exc:
            raise ReplayRefused(str(exc)) from exc


async def _enqueue(
    client: Client, settings: Settings, region: str, entry: DlqEntry, task_queue: str
) -> None:
    task = AuditTaskType(entry.task_type)
    if task is AuditTaskType.ENRICH_WORM:
        await client.start_workflow(
            AuditSegmentWorkflow.run,
            AuditSegmentInput(
                segment=SegmentToAudit.model_validate(entry.input),
                max_attempts=settings.audit.task_max_attempts,
                notify_anchor=True,
            ),
            id=entry.workflow_id,
            task_queue=task_queue,
            # A run already going for the segment (someone replayed it a moment ago) will do.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return
    signal = RETRY_ANCHOR if task is AuditTaskType.ANCHOR_BATCH else ATTEST_NOW
    try:
        await client.get_workflow_handle(anchor_workflow_id(region)).signal(signal)
    except RPCError as exc:
        raise ReplayRefused(
            f"the anchor workflow {anchor_workflow_id(region)} is not running "
            f"(`geoledger audit start`): {exc}"
        ) from exc
