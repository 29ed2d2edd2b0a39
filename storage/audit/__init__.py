"""The region's audit log in its control database (migration 0009) and its published forms
(ARCHITECTURE §3 "Audit"): what the audit activities call, every function idempotent.

`enrich_segment` turns a sealed segment into leaves (write-once storage + rows), `append_batch`
appends them and signs a checkpoint, `proofs` and `tiles` serve them back, `dlq` keeps the tasks
that exhausted their retries; the `witness_*` modules take checkpoints to witnesses and keep
their cosignatures (migration 0010). Formats: docs/audit.md.
"""

from storage.audit.append import append_batch
from storage.audit.backlog import backlog
from storage.audit.checkpoints import CheckpointSigner, NoteCheckpointSigner, latest_checkpoint
from storage.audit.dlq import dlq_add, dlq_get, dlq_list, dlq_mark_replayed, dlq_purge
from storage.audit.enrich import enrich_segment
from storage.audit.errors import (
    AuditError,
    BatchOutOfOrder,
    DlqEntryNotFound,
    DlqStateError,
    LogInconsistent,
    SegmentNotShipped,
)
from storage.audit.proofs import ReceiptParts, consistency_between, inclusion_receipt_parts
from storage.audit.tiles import publish_tiles

__all__ = [
    "AuditError",
    "BatchOutOfOrder",
    "CheckpointSigner",
    "DlqEntryNotFound",
    "DlqStateError",
    "LogInconsistent",
    "NoteCheckpointSigner",
    "ReceiptParts",
    "SegmentNotShipped",
    "append_batch",
    "backlog",
    "consistency_between",
    "dlq_add",
    "dlq_get",
    "dlq_list",
    "dlq_mark_replayed",
    "dlq_purge",
    "enrich_segment",
    "inclusion_receipt_parts",
    "latest_checkpoint",
    "publish_tiles",
]
