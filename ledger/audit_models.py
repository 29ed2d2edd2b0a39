"""What the audit log's storage (storage/audit/) hands to the audit activities, workflows and CLI:
keys, counts and hashes only, never leaves or segment bytes, so a workflow history stays small."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class EnrichedSegment(BaseModel):
    """One sealed segment whose leaves are in write-once storage and in the control database:
    its stream and seqs (both included), the manifest it was verified against, the WORM object's
    key, version (what a WORM read names) and SHA-256."""

    model_config = ConfigDict(frozen=True)

    stream: str
    first_seq: int
    last_seq: int
    records: int
    manifest_sha256: str
    worm_key: str
    worm_version: str
    leaves_sha256: str


class AnchoredBatch(BaseModel):
    """One closed batch: the log grew from `old_size` to `size` leaves (`segments` segments),
    and the checkpoint of `size` (root hex) is stored under `batch`."""

    model_config = ConfigDict(frozen=True)

    batch: int
    old_size: int
    size: int
    root_hex: str
    segments: int

    @property
    def leaves(self) -> int:
        """Leaves this batch appended."""
        return self.size - self.old_size


class StoredCheckpoint(BaseModel):
    """A checkpoint the log signed: its batch, size, root and the signed note (C2SP)."""

    model_config = ConfigDict(frozen=True)

    batch: int
    size: int
    root_hex: str
    note: str
    created_at: datetime


class Backlog(BaseModel):
    """What waits to be anchored: enriched segments not yet appended, and the acknowledgement
    time of the oldest leaf not in a checkpoint (None when there is none)."""

    model_config = ConfigDict(frozen=True)

    segments: int
    leaves: int
    oldest_unanchored_acked_at: datetime | None


DlqState = Literal["open", "replayed", "purged"]


class DlqEntry(BaseModel):
    """One audit task that exhausted its retry policy, and what was decided about it since."""

    model_config = ConfigDict(frozen=True)

    id: int
    task_type: str
    idempotency_key: str
    workflow_id: str
    input: dict[str, Any]
    error: str
    attempts: int
    first_failure: datetime
    last_failure: datetime
    state: DlqState
    replayed_at: datetime | None
    purged_at: datetime | None
    purged_by: str | None
    purge_reason: str | None
