"""How far a stream is committed in a ship target: the last seq of the gap-free run of its
manifests there. Manifests are the commit markers (ARCHITECTURE §3), written only after their
segment is uploaded and verified, and replay applies them strictly in order, so a manifest beyond
a missing one commits nothing yet: it is counted once the gap is filled."""

from __future__ import annotations

from storage.crr.replay import list_manifests_after
from storage.objectstore import ObjectStore

MANIFESTS_PER_LISTING = 1000


async def committed_through(store: ObjectStore, stream: str, after_seq: int = 0) -> int:
    """The last seq of `stream` committed in `store` without a gap after `after_seq` (a seq known
    to be committed there); `after_seq` when no manifest follows it."""
    through = after_seq
    while True:
        listing = await list_manifests_after(store, stream, through, MANIFESTS_PER_LISTING)
        if listing.ready:
            through = listing.ready[-1].last_seq
        if listing.gap_first_seq is not None or len(listing.ready) < MANIFESTS_PER_LISTING:
            return through
