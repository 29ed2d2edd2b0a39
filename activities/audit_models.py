"""Typed inputs and results of the audit activities and workflows (what storage returns as is -
EnrichedSegment, AnchoredBatch - is in ledger/audit_models.py). Payloads carry regions, streams,
seq ranges, counts, sizes and hashes - never leaves, segment bytes or proofs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from ledger.audit_models import AnchoredBatch, EnrichedSegment


class AuditTaskType(StrEnum):
    """The audit tasks that can exhaust their retry policy and land in the dead-letter queue;
    the values are the activity names and the `type` label of the audit metrics."""

    ENRICH_WORM = "enrich_worm"
    ANCHOR_BATCH = "anchor_batch"
    ATTEST_EXTERNAL = "attest_external"


class SegmentToAudit(BaseModel):
    """One sealed, shipped segment of a region's own stream: its seqs and its manifest's key in the
    region's own store."""

    region: str
    stream: str
    first_seq: int
    last_seq: int
    manifest_key: str

    @property
    def idempotency_key(self) -> str:
        """The segment's key in the dead-letter queue: the stream and its first seq."""
        return f"{self.stream}@{self.first_seq}"


class DiscoverInput(BaseModel):
    """Find the region's sealed segments not yet handed to the audit: after `cursors` (the last
    seq handed out per stream; None: from what the region's audit tables hold), at most `limit`,
    waiting up to `wait_s` for the first one."""

    region: str
    cursors: dict[str, int] | None = None
    limit: int = Field(ge=1)
    wait_s: float = Field(ge=0)


class LogHead(BaseModel):
    """Where the region's log stands in its tables: what a newly started anchor workflow takes
    over (its batch numbers go on from the latest, the leaves enriched before it wait to be
    appended), so a restart never re-sends an old checkpoint or forgets waiting leaves."""

    latest_batch: int
    size: int
    waiting_leaves: int


class DiscoverResult(BaseModel):
    """The segments found, in (stream, seq) order, and every stream's cursor after them; on the
    first discovery of a run started without state (cursors None), the log's head too."""

    segments: list[SegmentToAudit]
    cursors: dict[str, int]
    head: LogHead | None = None


class AnchorBatchInput(BaseModel):
    """Close batch number `batch` of the region's log: append up to `max_leaves` enriched
    leaves in order and sign a checkpoint. Re-running a batch that exists returns it."""

    region: str
    batch: int = Field(ge=1)
    max_leaves: int = Field(ge=1)


class AnchorBatchResult(BaseModel):
    """The batch as stored (it appended nothing when nothing was ready) and the enriched leaves
    still waiting after it (behind a stream's gap, or beyond the batch's cap)."""

    anchored: AnchoredBatch
    waiting: int


class AttestInput(BaseModel):
    """Send the region's checkpoint of `batch` to every configured witness not cooling down."""

    region: str
    batch: int = Field(ge=1)


class AttestResult(BaseModel):
    """Which witnesses cosigned the checkpoint, which were skipped (circuit open) and which
    failed this time."""

    size: int
    cosigned: list[str]
    skipped: list[str]
    failed: list[str]


class DlqRecordInput(BaseModel):
    """One audit task that exhausted its retry policy, for the dead-letter queue."""

    region: str
    task_type: AuditTaskType
    idempotency_key: str
    workflow_id: str
    input: dict[str, Any]
    error: str
    attempts: int


class AuditSegmentInput(BaseModel):
    """Input of AuditSegmentWorkflow: the segment, how often `enrich_worm` is tried before the
    segment goes to the dead-letter queue, and whether to tell the region's anchor workflow when
    done (a replay from the queue; a child reports to its parent by its result instead)."""

    segment: SegmentToAudit
    max_attempts: int = Field(ge=1)
    notify_anchor: bool = False


class AuditSegmentResult(BaseModel):
    """How the segment's audit ended: enriched (with what) or dead-lettered."""

    enriched: EnrichedSegment | None = None
    dead_lettered: bool = False


class AnchorSettings(BaseModel):
    """The anchor workflow's knobs, frozen into its input when it starts ([audit] settings)."""

    batch_max_leaves: int = Field(ge=1)
    batch_max_age_s: float = Field(gt=0)
    discover_wait_s: float = Field(ge=0)
    segments_per_round: int = Field(ge=1)
    task_max_attempts: int = Field(ge=1)


class AnchorState(BaseModel):
    """Where the region's anchoring stands; carried across continue-as-new."""

    cursors: dict[str, int] | None = None
    next_batch: int = 1
    # Enriched leaves not yet in a checkpoint, and since when the oldest of them waits.
    pending_leaves: int = 0
    pending_since: datetime | None = None
    checkpoint_size: int = 0
    checkpoint_root_hex: str = ""
    # The last batch a witness round ran for (0: none yet).
    attested_batch: int = 0
    segments_enriched: int = 0
    segments_dead_lettered: int = 0
    # A batch that exhausted its retries waits for `retry_anchor` (a DLQ replay).
    anchor_blocked: bool = False
    last_error: str | None = None


class AnchorLogInput(BaseModel):
    """Input of AnchorLogWorkflow: the region, its settings, and the carried state."""

    region: str
    settings: AnchorSettings
    state: AnchorState | None = None


class AnchorStatus(BaseModel):
    """What the `status` query returns."""

    region: str
    state: AnchorState
    segments_in_flight: int
