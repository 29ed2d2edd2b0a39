"""Shipping a run of consecutive sealed segments: up to `concurrency` uploads at a time, each
segment's manifest committed strictly in order as soon as its upload and every earlier commit are
done. One call ships what one Temporal activity used to take three per segment to do.

`ship_following` goes on shipping what the writer seals next, woken by each seal: one call (one
activity) then ships a stream for as long as its limits allow, instead of one listing activity
and one run activity per round of the workflow.
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
from storage.crr.errors import SegmentNotFoundError
from storage.crr.follow import FollowLimits
from storage.crr.ship import commit_manifest, ship_segment
from storage.faults import crash_point
from storage.objectstore import ObjectStore
from storage.wal import sealed_segments_after
from storage.wal.watch import SealWatch


@dataclass(frozen=True)
class CommittedSegment:
    """A segment whose manifest is committed, with that manifest's SHA-256 (the next one's link)."""

    shipped: ShippedSegment
    manifest_sha256: str


@dataclass(frozen=True)
class ShipContext:
    """What shipping one stream works with: where its sealed segments are (the WAL directory),
    the stores they go to by target region, the key that signs their manifests, and the zstd
    level they are compressed at."""

    wal_directory: Path
    stream: str
    stores: Mapping[str, ObjectStore]
    signing_key: Ed25519PrivateKey
    zstd_level: int  # the crr.zstd_level setting


async def ship_run(
    first_seqs: Sequence[int],
    context: ShipContext,
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
                context.wal_directory,
                context.stream,
                first_seq,
                context.stores,
                context.zstd_level,
            )
        crash_point("crr.ship.after_upload")
        return shipped

    uploads = [asyncio.ensure_future(upload(first_seq)) for first_seq in first_seqs]
    prev = prev_manifest_sha256
    try:
        for pending in uploads:
            shipped = await pending
            manifest = await commit_manifest(
                shipped, prev, int(time.time() * 1000), context.signing_key, context.stores
            )
            prev = manifest_sha256(manifest)
            await on_committed(CommittedSegment(shipped, prev))
    finally:
        # Uploads still running when a commit failed are harmless (a re-upload is identical),
        # but they must not outlive the run.
        for pending in uploads:
            pending.cancel()
        await asyncio.gather(*uploads, return_exceptions=True)


async def ship_following(
    context: ShipContext,
    after_seq: int,
    prev_manifest_sha256: str,
    concurrency: int,
    limits: FollowLimits,
    on_committed: Callable[[CommittedSegment], Awaitable[None]],
    on_idle: Callable[[], Awaitable[None]],
) -> None:
    """Ship every segment sealed after `after_seq` (whose manifest hashes to
    `prev_manifest_sha256`), and those sealed next, until `limits` say stop (the seal watch wakes
    it, `limits.interval_s` is the fallback poll).

    `on_committed` runs after each manifest is in every target; `on_idle` each time everything
    sealed is shipped, before waiting for the next seal (and at least every `interval_s` while
    waiting). Raises SegmentNotFoundError when the next sealed segment does not start right
    after the last shipped seq, and what `ship_run` raises; manifests committed before a failure
    stay committed. Cancelling it stops it at once, between or within commits.
    """
    started = time.monotonic()
    shipped = 0
    last_new = started

    async def committed(segment: CommittedSegment) -> None:
        nonlocal after_seq, prev_manifest_sha256, shipped
        after_seq, prev_manifest_sha256 = segment.shipped.last_seq, segment.manifest_sha256
        shipped += 1
        await on_committed(segment)

    # Seals rename files into the directory: the watch wakes the run the moment one happens.
    watch = SealWatch.start(context.wal_directory)
    wait = watch.wait if watch is not None else asyncio.sleep
    try:
        while shipped < limits.max_segments:
            listed = sealed_segments_after(context.wal_directory, after_seq)
            first_seqs = [s.first_seq for s in listed if s.last_seq is not None]
            first_seqs = first_seqs[: min(limits.batch, limits.max_segments - shipped)]
            now = time.monotonic()
            if first_seqs:
                if first_seqs[0] != after_seq + 1:
                    raise SegmentNotFoundError(
                        f"next sealed segment starts at seq {first_seqs[0]}, "
                        f"expected {after_seq + 1}"
                    )
                await ship_run(first_seqs, context, prev_manifest_sha256, concurrency, committed)
                last_new = time.monotonic()
            else:
                # Before the first segment the run waits as a listing would; after, it stops
                # soon once the stream is quiet, so its workflow's state catches up.
                end = limits.wait_until(started, last_new, shipped)
                if now >= end:
                    return
                await on_idle()
                await wait(min(limits.interval_s, end - now))
                continue
            if time.monotonic() - started >= limits.max_s:
                return
    finally:
        if watch is not None:
            watch.close()
