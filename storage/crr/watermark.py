"""A stream's ship watermark, derived from the manifests themselves: the newest manifest in a store
is what has been committed there. Manifests are the commit markers, so there is no second record
that could disagree with them.

A shipper writes each manifest to every ship target. One stopped part-way (a target down, the
workflow terminated and started afresh) can leave the newest manifests in some targets only;
reading the watermark completes that commit by copying every manifest a target lacks from one that
has it, so every target holds the same chain and the shipper resumes after its end. (The
segments themselves reached every target before their manifest was written.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from storage.crr.errors import ShipConflictError
from storage.crr.naming import (
    ManifestRef,
    manifest_start_after,
    manifests_prefix,
    parse_manifest_key,
)
from storage.crr.ship import put_bytes_once
from storage.objectstore import ObjectStore


async def read_ship_watermark(
    targets: Mapping[str, ObjectStore], stream: str, after_seq: int = 0, after_sha256: str = ""
) -> tuple[int, str]:
    """(last committed seq, SHA-256 of that manifest's bytes) across `targets`, looking only at
    manifests after `after_seq` (whose own manifest hashes to `after_sha256`); (after_seq,
    after_sha256) when there are none, so (0, "") for an unshipped stream. Requires at least one
    target. Raises ShipConflictError when two targets hold different bytes for the newest
    manifest, or for one being completed (that needs an operator: see runbooks/wal-crr-ops.md).
    """
    if not targets:
        raise ValueError("expected at least one ship target")
    held = {name: await _manifests(store, stream, after_seq) for name, store in targets.items()}
    every = {ref.key: ref for refs in held.values() for ref in refs.values()}
    for name, refs in held.items():
        for key in every.keys() - refs.keys():
            holder = next(other for other in held if key in held[other])
            await put_bytes_once(targets[name], key, await targets[holder].get(key))
    if not every:
        return after_seq, after_sha256
    newest = max(every.values(), key=lambda ref: ref.last_seq)
    # The next manifest chains to this one's hash, so every target must hold the same bytes.
    hashes = {
        name: hashlib.sha256(await store.get(newest.key)).hexdigest()
        for name, store in targets.items()
    }
    first, *others = targets
    for name in others:
        if hashes[name] != hashes[first]:
            raise ShipConflictError(
                targets[name].describe(), newest.key, hashes[first], hashes[name]
            )
    return newest.last_seq, hashes[first]


async def _manifests(store: ObjectStore, stream: str, after_seq: int) -> dict[str, ManifestRef]:
    refs: dict[str, ManifestRef] = {}
    start_after = manifest_start_after(stream, after_seq)
    async for info in store.list(prefix=manifests_prefix(stream), start_after=start_after):
        ref = parse_manifest_key(stream, info.key)
        if ref is not None:
            refs[info.key] = ref
    return refs
