"""How far a stream is committed in a ship target: the last seq of its newest manifest there.
Manifests are the commit markers (ARCHITECTURE §3), so listing them is enough: a manifest is
written only after its segment is uploaded and verified."""

from __future__ import annotations

from storage.crr.naming import manifest_start_after, manifests_prefix, parse_manifest_key
from storage.objectstore import ObjectStore


async def committed_through(store: ObjectStore, stream: str, after_seq: int = 0) -> int:
    """The last seq of `stream`'s newest manifest in `store`, listing only the manifests after
    `after_seq` (a seq known to be committed there); `after_seq` when there are none."""
    through = after_seq
    prefix = manifests_prefix(stream)
    async for info in store.list(prefix, start_after=manifest_start_after(stream, after_seq)):
        ref = parse_manifest_key(stream, info.key)
        if ref is not None:
            through = max(through, ref.last_seq)
    return through
