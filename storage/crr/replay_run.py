"""Applying a run of consecutive manifests: segment k+1 is fetched and verified (I5, I1) while
segment k is applied, so the CPU-bound checks and the database work overlap.

Each segment is applied in its own transaction together with the replay watermark (exactly-once
effect, I3), strictly in manifest order: a segment is applied only after every one before it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage.crr.naming import ManifestRef
from storage.crr.replay import VerifiedSegment, load_verified_segment
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


async def _prepare(
    ref: ManifestRef, source: ReplaySource, expected_prev_sha256: str | None
) -> tuple[VerifiedSegment, list[DedupRecord]]:
    segment = await load_verified_segment(
        source.store, ref, source.stream, source.manifest_key, expected_prev_sha256
    )
    return segment, await source.events.dedup_records(segment.records, source.stream)
