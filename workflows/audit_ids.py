"""The audit pipeline's workflow ids and signal names: stable, meaningful ids the web UI finds
(ARCHITECTURE §5), in one place for the workflows, the workers and the CLI."""

from __future__ import annotations

from ledger.stream_id import StreamId

ANCHOR_PREFIX = "audit-anchor"
SEGMENT_PREFIX = "audit-segment"

# Signals of AnchorLogWorkflow.
SEGMENTS_ENRICHED = "segments_enriched"  # leaves of a segment replayed from the DLQ are ready
RETRY_ANCHOR = "retry_anchor"  # a dead-lettered anchor_batch is replayed
ATTEST_NOW = "attest_now"  # a dead-lettered attest_external is replayed
ANCHOR_NOW = "anchor_now"  # close a batch now, whatever its size or age


def anchor_workflow_id(region: str) -> str:
    """The id of the workflow that keeps `region`'s Merkle log."""
    return f"{ANCHOR_PREFIX}-{region}"


def audit_segment_workflow_id(stream: str, first_seq: int) -> str:
    """The id of the workflow auditing the segment of `stream` that starts at `first_seq`."""
    parsed = StreamId.parse(stream)
    return f"{SEGMENT_PREFIX}-{parsed.region}-{parsed.node}-{first_seq:020d}"
