"""Applying a run of consecutive manifests: segment k+1 is fetched and verified (I5, I1) while
segment k is applied, so the CPU-bound checks and the database work overlap.

Each segment is applied in its own transaction together with the replay watermark (exactly-once
effect, I3), strictly in manifest order: a segment is applied only after every one before it.

`replay_following` goes on listing the store for manifests committed next, every poll interval,
and applies them: one call (one activity) replays a stream for as long as its limits allow.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.manifest_ref import ManifestRef
from storage.crr.follow import FollowLimits
from storage.crr.replay import (
    ManifestListing,
    VerifiedSegment,
    list_manifests_after,
    load_verified_segment,
)
from storage.crr.verify_events import EventVerifier
from storage.dedup.models import DedupRecord, Outcome
from storage.dedup.store import DedupStore
from storage.objectstore import ObjectStore


@dataclass(frozen=True)
class AppliedSegment:
    """One segment applied: where the stream now stands and what applying it did."""

    last_seq: int
    manifest_sha256: str
    records: int
    accepted: int
    duplicates: int
    conflicts: int


@dataclass(frozen=True)
class ReplaySource:
    """Where a run's segments come from and what they are verified against."""

    stream: str
    store: ObjectStore
    manifest_key: Ed25519PublicKey
    events: EventVerifier


async def replay_run(
    refs: Sequence[ManifestRef],
    source: ReplaySource,
    dedup: DedupStore,
    expected_prev_sha256: str | None,
    on_applied: Callable[[AppliedSegment], Awaitable[None]],
) -> None:
    """Verify and apply `refs` (consecutive manifests of `source.stream`) in order.

    `expected_prev_sha256` is the hash of the manifest before `refs[0]` (None: unknown, the chain
    check of the first is skipped). `on_applied` runs after each segment's transaction committed,
    before the next one is applied. Raises VerificationError (storage.crr.errors) for bytes or
    events that fail their checks; nothing of that segment or any later one is applied then.
    """
    if not refs:
        return
    prepared = asyncio.ensure_future(_prepare(refs[0], source, expected_prev_sha256))
    try:
        for index, ref in enumerate(refs):
            segment, records = await prepared
            if index + 1 < len(refs):
                # The next manifest chains to this one: its checks can start now.
                prepared = asyncio.ensure_future(
                    _prepare(refs[index + 1], source, segment.manifest_sha256)
                )
            results = await dedup.apply(records, stream=source.stream, through_seq=ref.last_seq)
            tally = Counter(result.outcome for result in results)
            await on_applied(
                AppliedSegment(
                    last_seq=ref.last_seq,
                    manifest_sha256=segment.manifest_sha256,
                    records=len(records),
                    accepted=tally[Outcome.ACCEPTED],
                    duplicates=tally[Outcome.DUPLICATE],
                    conflicts=tally[Outcome.CONFLICT],
                )
            )
    finally:
        if not prepared.done():
            prepared.cancel()


async def replay_following(
    source: ReplaySource,
    dedup: DedupStore,
    after_seq: int,
    expected_prev_sha256: str | None,
    limits: FollowLimits,
    on_applied: Callable[[AppliedSegment], Awaitable[None]],
    on_listed: Callable[[ManifestListing], Awaitable[None]],
) -> None:
    """Apply every manifest of `source.stream` committed after `after_seq`, and those committed
    next, until `limits` say stop; the store is listed every `limits.interval_s` while there is
    nothing to apply.

    `expected_prev_sha256` is as in `replay_run`. `on_listed` runs after every listing (a gap
    shows there: `ready` empty, `gap_first_seq` set; nothing beyond a gap is applied),
    `on_applied` as in `replay_run`. Raises what `replay_run` raises.
    """
    started = time.monotonic()
    applied = 0
    last_new = started

    async def note(segment: AppliedSegment) -> None:
        nonlocal after_seq, expected_prev_sha256, applied
        after_seq, expected_prev_sha256 = segment.last_seq, segment.manifest_sha256
        applied += 1
        await on_applied(segment)

    while applied < limits.max_segments:
        batch = min(limits.batch, limits.max_segments - applied)
        listing = await list_manifests_after(source.store, source.stream, after_seq, batch)
        await on_listed(listing)
        if listing.ready:
            await replay_run(listing.ready, source, dedup, expected_prev_sha256, note)
            last_new = time.monotonic()
            if last_new - started >= limits.max_s:
                return
            continue
        now = time.monotonic()
        end = limits.wait_until(started, last_new, applied)
        if now >= end:
            return
        await asyncio.sleep(min(limits.interval_s, end - now))


async def _prepare(
    ref: ManifestRef, source: ReplaySource, expected_prev_sha256: str | None
) -> tuple[VerifiedSegment, list[DedupRecord]]:
    segment = await load_verified_segment(
        source.store, ref, source.stream, source.manifest_key, expected_prev_sha256
    )
    return segment, await source.events.dedup_records(segment.records, source.stream)
