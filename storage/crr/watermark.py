"""A stream's ship watermark, derived from the manifests themselves: the newest manifest in a store
is what has been committed there. Manifests are the commit markers, so there is no second record
that could disagree with them."""

from __future__ import annotations

import hashlib

from storage.crr.naming import manifests_prefix, parse_manifest_key
from storage.objectstore import ObjectStore


async def read_ship_watermark(store: ObjectStore, stream: str) -> tuple[int, str]:
    """(last committed seq, SHA-256 of that manifest's bytes); (0, "") for an unshipped stream."""
    newest = None
    async for info in store.list(prefix=manifests_prefix(stream)):
        ref = parse_manifest_key(stream, info.key)
        if ref is not None:
            newest = ref
    if newest is None:
        return 0, ""
    return newest.last_seq, hashlib.sha256(await store.get(newest.key)).hexdigest()
