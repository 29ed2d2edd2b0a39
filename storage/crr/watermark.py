"""A stream's ship watermark, derived from the manifests themselves: the newest manifest in a store
is what has been committed there. Manifests are the commit markers, so there is no second record
that could disagree with them.

A shipper writes each manifest to every ship target. One stopped part-way (a target down, the
workflow terminated and started afresh) can leave the newest manifests in some targets only, and
a target can lose objects (an emulator restarted empty, a mistaken delete). Reading the watermark
therefore repairs the targets after it first (storage/crr/store_repair.py): every manifest or
segment a target lacks is copied, verified, from one that has it, so every target holds the same
chain and the shipper resumes after its end. Read from seq 0 (a shipper's start) that covers the
whole history; the steady state reads only after the last watermark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage.crr.errors import ShipConflictError, VerificationError
from storage.crr.store_repair import repair_stream
from storage.objectstore import ObjectNotFound, ObjectStore


async def read_ship_watermark(
    targets: Mapping[str, ObjectStore],
    stream: str,
    public_key: Ed25519PublicKey,
    after_seq: int = 0,
    after_sha256: str = "",
) -> tuple[int, str]:
    """(last committed seq, SHA-256 of that manifest's bytes) across `targets`, looking only at
    manifests after `after_seq` (whose own manifest hashes to `after_sha256`); (after_seq,
    after_sha256) when there are none, so (0, "") for an unshipped stream.

    Requires at least one target; `public_key` is the stream's region's manifest key, which every
    copied manifest must verify under. Raises ShipConflictError when two targets hold different
    bytes for the newest manifest, VerificationError when a target lacks it and no peer holds
    bytes that verify (both need an operator: see runbooks/wal-crr-ops.md).
    """
    if not targets:
        raise ValueError("expected at least one ship target")
    report = await repair_stream(targets, stream, public_key, after_seq, after_sha256)
    newest = report.through_key
    if newest is None:
        return after_seq, after_sha256
    # The next manifest chains to this one's hash, so every target must hold the same bytes.
    hashes: dict[str, str] = {}
    for name, store in targets.items():
        try:
            hashes[name] = hashlib.sha256(await store.get(newest)).hexdigest()
        except ObjectNotFound:
            reasons = [p.reason for p in (*report.refused, *report.conflicts) if p.key == newest]
            raise VerificationError(
                f"{store.describe()}/{newest}: missing, and no peer holds bytes that verify "
                f"({'; '.join(reasons) or 'nothing to copy'})",
                store=store.describe(),
            ) from None
    first, *others = targets
    for name in others:
        if hashes[name] != hashes[first]:
            raise ShipConflictError(targets[name].describe(), newest, hashes[first], hashes[name])
    return report.through_seq, hashes[first]
