"""Activities of ReplayWalWorkflow: read a source stream's manifests from the target region's own
store, verify everything (I5, I1) and apply to the target region's dedup store (I3)."""

from __future__ import annotations

import asyncio
import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import crr_metrics
from activities.crr_models import (
    ApplySegmentInput,
    ApplySegmentResult,
    ListManifestsInput,
    ListManifestsResult,
    ReplayPosition,
    ReplayPositionInput,
    ReplayRunInput,
    ReplayRunResult,
    StreamRef,
)
from activities.follow import follow_limits
from activities.heartbeat import with_heartbeats
from activities.long_poll import long_poll
from activities.names import APPLY_SEGMENT, LIST_MANIFESTS, REPLAY_POSITION, REPLAY_RUN
from activities.region_resources import RegionResources
from ledger import error_types
from ledger.config import Settings
from storage.crr.errors import VerificationError
from storage.crr.region_keys import manifest_public_key
from storage.crr.replay import ManifestListing, list_manifests_after
from storage.crr.replay_run import AppliedSegment, ReplaySource, replay_following, replay_run
from storage.faults import crash_point


class ReplayActivities:
    """The activities of ReplayWalWorkflow, over the worker's shared region connections."""

    def __init__(self, settings: Settings, resources: RegionResources) -> None:
        self._settings = settings
        self._resources = resources
        self._gap_since: dict[tuple[str, str], float] = {}

    @activity.defn(name=REPLAY_POSITION)
    async def replay_position(self, request: ReplayPositionInput) -> ReplayPosition:
        """The stream's replay watermark in `into_region`: where a new workflow starts."""
        dedup = await self._resources.dedup(request.into_region)
        return ReplayPosition(applied_seq=await dedup.applied_position(str(request.source.stream)))

    @activity.defn(name=REPLAY_RUN)
    async def replay_run(self, request: ReplayRunInput) -> ReplayRunResult:
        """Verify and apply the listed manifests in order, the next segment's checks overlapping
        this one's apply; with `follow`, go on with the manifests committed next (the store is
        listed every poll interval) until its limits say stop. Heartbeats its position after
        every segment and every listing: a retry (the worker died) goes on from there, and a
        cancellation (a pause) stops it at once."""
        stream, target = str(request.source.stream), request.into_region
        progress = _checkpoint(request)
        refs = [m for m in request.manifests if m.last_seq > progress.applied_seq]
        source = await self._replay_source(request.source, target)

        async def applied(segment: AppliedSegment) -> None:
            nonlocal progress
            crash_point("crr.replay.after_apply")
            progress = _advanced(progress, segment)
            crr_metrics.REPLAY_APPLIED.labels(stream, target).inc(segment.records)
            activity.heartbeat(progress.model_dump())

        async def listed(listing: ManifestListing) -> None:
            nonlocal progress
            # Exported on every listing, so the gap gauges stay current while the run waits.
            blocked = bool(listing.gap_first_seq and not listing.ready)
            self._export_gap(stream, target, blocked=blocked)
            gap = listing.gap_first_seq if blocked else None
            progress = progress.model_copy(update={"gap_first_seq": gap})
            activity.heartbeat(progress.model_dump())

        dedup = await self._resources.dedup(target)
        work = (
            replay_run(refs, source, dedup, progress.last_manifest_sha256, applied)
            if request.follow is None
            else replay_following(
                source,
                dedup,
                progress.applied_seq,
                progress.last_manifest_sha256,
                follow_limits(request.follow),
                applied,
                listed,
            )
        )
        try:
            await with_heartbeats(work, details=lambda: progress.model_dump())
        except VerificationError as exc:
            # The segments before the failing one were applied: the details say how far.
            raise ApplicationError(
                str(exc), progress.model_dump(), type=error_types.VERIFICATION, non_retryable=True
            ) from exc
        except asyncio.CancelledError:
            # A pause: stop here and say how far the run got (its last transaction either
            # committed, and is counted, or rolled back).
            return progress
        return progress

    @activity.defn(name=LIST_MANIFESTS)
    async def list_manifests(self, request: ListManifestsInput) -> ListManifestsResult:
        """The manifests ready to apply after `after_seq`, waiting up to `poll.wait_s` for one (a
        gap alone does not end the wait); every look exports the gap gauges."""
        stream, target = str(request.source.stream), request.into_region
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
            ready=listing.ready,
            gap_first_seq=listing.gap_first_seq,
        )

    @activity.defn(name=APPLY_SEGMENT)
    async def apply_segment(self, request: ApplySegmentInput) -> ApplySegmentResult:
        """One segment: what ReplayWalWorkflow runs before its `replay-listed-runs` patch."""
        stream, target = str(request.source.stream), request.into_region
        ref = request.manifest
        done: list[AppliedSegment] = []

        async def applied(segment: AppliedSegment) -> None:
            crash_point("crr.replay.after_apply")
            crr_metrics.REPLAY_APPLIED.labels(stream, target).inc(segment.records)
            done.append(segment)

        try:
            await with_heartbeats(
                replay_run(
                    [ref],
                    await self._replay_source(request.source, target),
                    await self._resources.dedup(target),
                    request.expected_prev_sha256,
                    applied,
                )
            )
        except VerificationError as exc:
            raise ApplicationError(
                str(exc), type=error_types.VERIFICATION, non_retryable=True
            ) from exc
        (segment,) = done
        return ApplySegmentResult(
            manifest_sha256=segment.manifest_sha256,
            last_seq=segment.last_seq,
            records=segment.records,
            accepted=segment.accepted,
            duplicates=segment.duplicates,
            conflicts=segment.conflicts,
        )

    async def _replay_source(self, source: StreamRef, target: str) -> ReplaySource:
        return ReplaySource(
            stream=str(source.stream),
            store=self._resources.store(target),
            manifest_key=manifest_public_key(source.region, self._settings.region(source.region)),
            events=await self._resources.event_verifier(target),
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


def _checkpoint(request: ReplayRunInput) -> ReplayRunResult:
    """Where this attempt starts: the last attempt's heartbeat, or the request's watermark."""
    details = activity.info().heartbeat_details
    if details:
        return ReplayRunResult.model_validate(details[0])
    return ReplayRunResult(
        applied_seq=request.after_seq, last_manifest_sha256=request.expected_prev_sha256
    )


def _advanced(progress: ReplayRunResult, segment: AppliedSegment) -> ReplayRunResult:
    return ReplayRunResult(
        applied_seq=segment.last_seq,
        last_manifest_sha256=segment.manifest_sha256,
        segments=progress.segments + 1,
        records=progress.records + segment.records,
        accepted=progress.accepted + segment.accepted,
        duplicates=progress.duplicates + segment.duplicates,
        conflicts=progress.conflicts + segment.conflicts,
    )
