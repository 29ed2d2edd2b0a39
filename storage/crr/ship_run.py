"""Shipping a run of consecutive sealed segments: up to `concurrency` uploads at a time, each
segment's manifest committed strictly in order as soon as its upload and every earlier commit are
done. One call ships what one Temporal activity used to take three per segment to do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.manifest import manifest_sha256
from ledger.shipped import ShippedSegment
from storage.crr.ship import commit_manifest, ship_segment
from storage.faults import crash_point
from storage.objectstore import ObjectStore


@dataclass(frozen=True)
class CommittedSegment:
    shipped: ShippedSegment
    manifest_sha256: str


@dataclass(frozen=True)
class ShipTargets:
    """Where a stream ships and how: its WAL, the target stores, the region's signing key."""

    wal_directory: Path
    stream: str
    stores: Mapping[str, ObjectStore]
    signing_key: Ed25519PrivateKey
    zstd_level: int = 3


async def ship_run(
    first_seqs: Sequence[int],
    targets: ShipTargets,
    prev_manifest_sha256: str,
    concurrency: int,
    on_committed: Callable[[CommittedSegment], Awaitable[None]],
) -> None:
    """Ship the sealed segments starting at `first_seqs` (consecutive, in order).

    `prev_manifest_sha256` is the hash of the manifest before the first one ("" for a stream's
    first segment). `on_committed` runs after each manifest is in every target, before the next
    is written. Raises what shipping raises (ShipConflictError, SegmentNotFoundError, object
    store errors); manifests committed before the failure stay committed.
    """
    if concurrency < 1:
        raise ValueError(f"expected concurrency >= 1, got {concurrency}")
    slots = asyncio.Semaphore(concurrency)

    async def upload(first_seq: int) -> ShippedSegment:
        async with slots:
            shipped = await ship_segment(
                targets.wal_directory,
                targets.stream,
                first_seq,
                targets.stores,
                targets.zstd_level,
            )
        crash_point("crr.ship.after_upload")
        return shipped

    uploads = [asyncio.ensure_future(upload(first_seq)) for first_seq in first_seqs]
    prev = prev_manifest_sha256
    try:
        for pending in uploads:
            shipped = await pending
            manifest = await commit_manifest(
                shipped, prev, int(time.time() * 1000), targets.signing_key, targets.stores
            )
            prev = manifest_sha256(manifest)
            await on_committed(CommittedSegment(shipped, prev))
    finally:
        # Uploads still running when a commit failed are harmless (a re-upload is identical),
        # but they must not outlive the run.
        for pending in uploads:
            pending.cancel()
        await asyncio.gather(*uploads, return_exceptions=True)
