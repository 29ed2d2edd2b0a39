"""`enrich_segment`: one sealed segment of a region's own stream becomes audit leaves, in
write-once storage and in the control database (not yet appended to the log).

Nothing is written before the whole segment verified against its signed, hash-chained manifest
(I5), so a tampered segment leaves no trace. Re-running is harmless: the leaves object holds the
same bytes each time and the rows are inserted ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import merkle
from ledger.audit_leaf import AuditLeaf, leaf_from_record
from ledger.audit_models import EnrichedSegment
from ledger.errors import RecordDecodeError
from ledger.record import WalRecord, decode_record
from ledger.stream_id import StreamId
from storage.audit.errors import AuditError, SegmentNotShipped
from storage.audit.leaves_object import encode_leaves_object, leaves_key
from storage.crr.errors import VerificationError
from storage.crr.replay import list_manifests_after, load_verified_segment
from storage.faults import crash_point
from storage.objectstore import ObjectStore
from storage.objectstore.worm import WormStore

CRASH_AFTER_WORM_WRITTEN = "audit-enrich-worm-written"
"""Crash point: the segment's leaves object is written once, no row names it yet."""
CRASH_AFTER_ROWS_COMMITTED = "audit-enrich-rows-committed"
"""Crash point: the segment's and leaves' rows are committed, the task has not returned."""

SELECT_PREVIOUS_MANIFEST = """
SELECT manifest_sha256 FROM audit_segments WHERE stream = $1 AND last_seq = $2
"""
INSERT_SEGMENT = """
INSERT INTO audit_segments
    (stream, first_seq, last_seq, records, manifest_sha256, worm_key, worm_version, leaves_sha256)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (stream, first_seq) DO NOTHING
"""
INSERT_LEAVES = """
INSERT INTO audit_leaves (stream, seq, tenant_id, event_id, leaf, leaf_hash, acked_at)
SELECT $1, l.seq, l.tenant_id, l.event_id, l.leaf, l.leaf_hash, l.acked_at
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::timestamptz[])
    AS l(seq, tenant_id, event_id, leaf, leaf_hash, acked_at)
ON CONFLICT (stream, seq) DO NOTHING
"""


async def enrich_segment(
    control_db: Any,
    store: ObjectStore,
    worm: WormStore,
    region: str,
    stream: str,
    first_seq: int,
    *,
    public_key: Ed25519PublicKey,
) -> EnrichedSegment:
    """Enrich the segment of `stream` (one of `region`'s own) starting at `first_seq`.

        Reads the manifest and segment from `store` (the region's own) and verifies them under
        `public_key` (the region's manifest key), chained to the previous segment's manifest when
        that one was enriched; writes the leaves object to `worm` (identical bytes already there are
    success, so a retry writes nothing new); inserts the segment's
        and leaves' rows in one transaction on `control_db` (an asyncpg pool). Raises
        SegmentNotShipped when no committed manifest starts at `first_seq`, VerificationError when
        the bytes do not verify, AuditError for a stream of another region or a record that
        does not decode.
    """
    if StreamId.parse(stream).region != region:
        raise AuditError(f"expected a stream of region {region!r}, got {stream!r}")
    listing = await list_manifests_after(store, stream, first_seq - 1, 1)
    if not listing.ready:
        raise SegmentNotShipped(
            f"expected a committed manifest of {stream} starting at seq {first_seq} in "
            f"{store.describe()}, found none"
        )
    [ref] = listing.ready
    # The chain is checked where its predecessor is known: the stream's start, or a segment
    # enriched before. A segment enriched out of order is still fully verified on its own.
    previous = (
        ""
        if first_seq == 1
        else await control_db.fetchval(SELECT_PREVIOUS_MANIFEST, stream, first_seq - 1)
    )
    verified = await load_verified_segment(store, ref, stream, public_key, previous)
    leaves, acked = _leaves(stream, verified.records, store.describe())
    worm_key = leaves_key(stream, ref.first_seq, ref.last_seq)
    data = encode_leaves_object(
        stream, ref.first_seq, ref.last_seq, verified.manifest_sha256, leaves
    )
    # WORM first: a row must never name a leaves object that was not written.
    receipt = await worm.write_once(worm_key, data)
    crash_point(CRASH_AFTER_WORM_WRITTEN)
    segment = EnrichedSegment(
        stream=stream,
        first_seq=ref.first_seq,
        last_seq=ref.last_seq,
        records=len(leaves),
        manifest_sha256=verified.manifest_sha256,
        worm_key=worm_key,
        worm_version=receipt.version,
        leaves_sha256=hashlib.sha256(data).hexdigest(),
    )
    await insert_segment_rows(control_db, segment, leaves, acked)
    crash_point(CRASH_AFTER_ROWS_COMMITTED)
    return segment


def _leaves(
    stream: str, records: list[tuple[int, bytes]], where: str
) -> tuple[list[AuditLeaf], list[datetime]]:
    leaves: list[AuditLeaf] = []
    acked: list[datetime] = []
    for seq, data in records:
        try:
            record: WalRecord = decode_record(data)
        except RecordDecodeError as exc:
            # A verified segment holds what its region signed; a record that does not decode is
            # a writer bug, not damage, and must stop the pipeline loudly.
            raise VerificationError(f"{where}: {stream} seq {seq}: {exc}") from exc
        leaves.append(leaf_from_record(stream, seq, record))
        acked.append(datetime.fromtimestamp(record.accepted_at_ms / 1000, UTC))
    return leaves, acked


async def insert_segment_rows(
    control_db: Any, segment: EnrichedSegment, leaves: list[AuditLeaf], acked: list[datetime]
) -> None:
    """Insert an enriched segment's row and its leaves' rows (no index yet) in one transaction;
    rows that exist are left as they are. Requires `leaves` in seq order, one per record."""
    async with control_db.acquire() as conn, conn.transaction():
        await conn.execute(
            INSERT_SEGMENT,
            segment.stream,
            segment.first_seq,
            segment.last_seq,
            segment.records,
            segment.manifest_sha256,
            segment.worm_key,
            segment.worm_version,
            segment.leaves_sha256,
        )
        encodings = [leaf.encode() for leaf in leaves]
        await conn.execute(
            INSERT_LEAVES,
            segment.stream,
            [leaf.seq for leaf in leaves],
            [leaf.tenant_id for leaf in leaves],
            [leaf.event_id for leaf in leaves],
            encodings,
            [merkle.leaf_hash(encoding) for encoding in encodings],
            acked,
        )
