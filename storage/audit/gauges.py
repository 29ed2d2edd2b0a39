"""One region's audit gauges, measured from its control database and its own store
(storage/audit/metrics.py names them).

The backlog is every sealed segment of the region's own streams whose leaves are not in a
checkpoint: segments not yet enriched (manifests after what the audit tables hold) and enriched
ones not yet appended. Its age is that of the oldest record among them: an enriched leaf's ack
time, or - for a segment the audit has not read yet - its manifest's seal time, which no record
of the segment precedes by more than the segment age (wal.max_segment_age_s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.manifest import parse_manifest
from storage.audit.backlog import backlog
from storage.audit.checkpoints import latest_checkpoint
from storage.audit.discover import audited_through, segments_after
from storage.audit.dlq import dlq_count
from storage.audit.metrics import (
    AUDIT_BACKLOG_AGE_SECONDS,
    AUDIT_BACKLOG_SEGMENTS,
    AUDIT_CHECKPOINT_SIZE,
    AUDIT_DLQ_SIZE,
    AUDIT_FORK_DETECTED,
    AUDIT_WITNESS_CIRCUIT_OPEN,
)
from storage.audit.witness_forks import forked_witnesses
from storage.audit.witness_health import open_witnesses
from storage.objectstore import ObjectStore

# Counting unread segments lists manifests; beyond this many the gauge says "at least".
MAX_COUNTED_SEGMENTS = 10_000


@dataclass(frozen=True)
class AuditSample:
    """One region's audit gauges at one moment."""

    backlog_segments: int
    backlog_age_s: float
    dlq_size: int
    checkpoint_size: int
    open_witnesses: list[str]
    forked_witnesses: list[str]


async def sample_region(
    control_db: Any, store: ObjectStore, streams: Sequence[str], now: datetime | None = None
) -> AuditSample:
    """Measure the region whose audit tables are on `control_db` and whose own store is `store`."""
    now = now or datetime.now(UTC)
    waiting = await backlog(control_db)
    unread = await segments_after(
        store, streams, await audited_through(control_db), MAX_COUNTED_SEGMENTS
    )
    oldest: list[datetime] = []
    if waiting.oldest_unanchored_acked_at is not None:
        oldest.append(waiting.oldest_unanchored_acked_at)
    firsts: dict[str, str] = {}
    for each in unread:
        firsts.setdefault(each.stream, each.ref.key)
    for key in firsts.values():
        manifest = parse_manifest(await store.get(key))
        oldest.append(datetime.fromtimestamp(manifest.sealed_at_ms / 1000, UTC))
    checkpoint = await latest_checkpoint(control_db)
    return AuditSample(
        backlog_segments=waiting.segments + len(unread),
        backlog_age_s=max((0.0, *((now - t).total_seconds() for t in oldest))),
        dlq_size=await dlq_count(control_db),
        checkpoint_size=0 if checkpoint is None else checkpoint.size,
        open_witnesses=await open_witnesses(control_db),
        forked_witnesses=[mark.witness for mark in await forked_witnesses(control_db)],
    )


def export(region: str, sample: AuditSample, witnesses: Sequence[str]) -> None:
    """Set the region's gauges; every witness of its log gets its 0 or 1."""
    AUDIT_BACKLOG_SEGMENTS.labels(region=region).set(sample.backlog_segments)
    AUDIT_BACKLOG_AGE_SECONDS.labels(region=region).set(sample.backlog_age_s)
    AUDIT_DLQ_SIZE.labels(region=region).set(sample.dlq_size)
    AUDIT_CHECKPOINT_SIZE.labels(region=region).set(sample.checkpoint_size)
    for witness in witnesses:
        AUDIT_WITNESS_CIRCUIT_OPEN.labels(region=region, witness=witness).set(
            int(witness in sample.open_witnesses)
        )
        AUDIT_FORK_DETECTED.labels(region=region, witness=witness).set(
            int(witness in sample.forked_witnesses)
        )
