"""Activities of ReplayWalWorkflow: read a source stream's manifests from the target region's own
store, verify everything (I5, I1) and apply to the target region's dedup store (I3)."""

from __future__ import annotations

import time
from collections import Counter as Tally

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import crr_metrics
from activities.crr_models import (
    ApplySegmentInput,
    ApplySegmentResult,
    ListManifestsInput,
    ListManifestsResult,
    ManifestRefModel,
    ReplayPosition,
    ReplayPositionInput,
)
from activities.heartbeat import with_heartbeats
from activities.long_poll import long_poll
from activities.names import APPLY_SEGMENT, LIST_MANIFESTS, REPLAY_POSITION
from activities.region_resources import RegionResources
from ledger.config import Settings
from storage.crr.errors import VerificationError
from storage.crr.naming import ManifestRef
from storage.crr.region_keys import manifest_public_key
from storage.crr.replay import ManifestListing, list_manifests_after, load_verified_segment
from storage.dedup.models import Outcome
from storage.faults import crash_point


class ReplayActivities:
    def __init__(self, settings: Settings, resources: RegionResources) -> None:
        self._settings = settings
        self._resources = resources
        self._gap_since: dict[tuple[str, str], float] = {}

    @activity.defn(name=REPLAY_POSITION)
    async def replay_position(self, request: ReplayPositionInput) -> ReplayPosition:
        dedup = await self._resources.dedup(request.into_region)
        return ReplayPosition(applied_seq=await dedup.applied_position(request.source.stream))

    @activity.defn(name=LIST_MANIFESTS)
    async def list_manifests(self, request: ListManifestsInput) -> ListManifestsResult:
        stream, target = request.source.stream, request.into_region
        store = self._resources.store(target)

        async def look() -> ManifestListing:
            listing = await list_manifests_after(store, stream, request.after_seq, request.limit)
            # Exported on every look, so the gap gauges stay current while the listing waits.
            self._export_gap(
                stream, target, blocked=bool(listing.gap_first_seq and not listing.ready)
            )
            return listing

        # Only manifests that can be applied end the wait early. A gap alone is no work: ending
        # on it would have the workflow list again at once, spinning for as long as the gap lasts.
        listing = await long_poll(look, lambda found: bool(found.ready), request.poll)
        return ListManifestsResult(
            ready=[
                ManifestRefModel(key=r.key, first_seq=r.first_seq, last_seq=r.last_seq)
                for r in listing.ready
            ],
            gap_first_seq=listing.gap_first_seq,
        )

    @activity.defn(name=APPLY_SEGMENT)
    async def apply_segment(self, request: ApplySegmentInput) -> ApplySegmentResult:
        stream, target = request.source.stream, request.into_region
        ref = ManifestRef(
            request.manifest.key, request.manifest.first_seq, request.manifest.last_seq
        )
        try:
            segment = await with_heartbeats(
                load_verified_segment(
                    self._resources.store(target),
                    ref,
                    stream,
                    manifest_public_key(
                        request.source.region, self._settings.region(request.source.region)
                    ),
                    request.expected_prev_sha256,
                )
            )
            verifier = await self._resources.event_verifier(target)
            records = await with_heartbeats(verifier.dedup_records(segment.records, stream))
        except VerificationError as exc:
            raise ApplicationError(str(exc), type="VerificationError", non_retryable=True) from exc
        activity.heartbeat(ref.last_seq)
        dedup = await self._resources.dedup(target)
        results = await with_heartbeats(
            dedup.apply(records, stream=stream, through_seq=ref.last_seq)
        )
        crash_point("crr.replay.after_apply")
        tally = Tally(result.outcome for result in results)
        crr_metrics.REPLAY_APPLIED.labels(stream, target).inc(len(records))
        return ApplySegmentResult(
            manifest_sha256=segment.manifest_sha256,
            last_seq=ref.last_seq,
            records=len(records),
            accepted=tally[Outcome.ACCEPTED],
            duplicates=tally[Outcome.DUPLICATE],
            conflicts=tally[Outcome.CONFLICT],
        )

    def _export_gap(self, stream: str, target: str, blocked: bool) -> None:
        key = (stream, target)
        if blocked:
            since = self._gap_since.setdefault(key, time.monotonic())
            crr_metrics.MANIFEST_GAP.labels(stream, target).set(1)
            crr_metrics.MANIFEST_GAP_SECONDS.labels(stream, target).set(time.monotonic() - since)
        else:
            self._gap_since.pop(key, None)
            crr_metrics.MANIFEST_GAP.labels(stream, target).set(0)
            crr_metrics.MANIFEST_GAP_SECONDS.labels(stream, target).set(0)
