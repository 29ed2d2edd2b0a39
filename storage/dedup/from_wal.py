"""The dedup store's view of a WAL record: the same mapping for local ingest, recovery and CRR
replay, so every region derives identical rows from identical records (I3)."""

from __future__ import annotations

from ledger.record import WalRecord
from ledger.signing import content_digest
from storage.dedup.models import DedupRecord


def dedup_record_from(record: WalRecord, seq: int) -> DedupRecord:
    """Requires `seq` to be the position the record's WAL stream assigned to it."""
    event = record.event
    return DedupRecord(
        tenant_id=event.tenant_id,
        event_id=event.event_id,
        hlc=record.hlc,
        region=record.region,
        node=record.node,
        seq=seq,
        digest=content_digest(event),
        event=event.canonical_event(),
        accepted_at_ms=record.accepted_at_ms,
    )
