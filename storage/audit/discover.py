"""Finding the sealed segments of a region's own streams that the audit has not taken yet: the
manifests committed in the region's own store after a per-stream cursor, in order.

The cursor of a stream is the last seq handed to the audit. A new anchor workflow starts from
what the region's audit tables hold (`audited_through`); a running one carries its cursors, which
run ahead of the tables while segments are being enriched. A missing manifest stops its stream at
the gap (the CRR alerts say why); the other streams go on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.manifest_ref import ManifestRef
from storage.crr.replay import list_manifests_after
from storage.objectstore import ObjectStore

SELECT_AUDITED_THROUGH = """
SELECT stream, max(last_seq) AS last_seq FROM audit_segments GROUP BY stream
"""


@dataclass(frozen=True)
class FoundSegment:
    """A sealed segment of `stream` whose manifest is committed at `ref.key`."""

    stream: str
    ref: ManifestRef


async def audited_through(control_db: Any) -> dict[str, int]:
    """The last seq of each stream whose segment is in the audit tables (enriched or appended)."""
    rows = await control_db.fetch(SELECT_AUDITED_THROUGH)
    return {row["stream"]: int(row["last_seq"]) for row in rows}


async def segments_after(
    store: ObjectStore, streams: Sequence[str], cursors: Mapping[str, int], limit: int
) -> list[FoundSegment]:
    """Up to `limit` segments of `streams` after their cursors (0: from the start), in (stream,
    seq) order; each stream's segments without a gap."""
    found: list[FoundSegment] = []
    for stream in sorted(streams):
        if len(found) >= limit:
            break
        listing = await list_manifests_after(
            store, stream, cursors.get(stream, 0), limit - len(found)
        )
        found.extend(FoundSegment(stream, ref) for ref in listing.ready)
    return found
