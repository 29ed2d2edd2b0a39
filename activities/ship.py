"""Activities of ShipWalWorkflow. They read the node's WAL directory, so they run on a worker
beside the node, on its own task queue `geoledger-crr-<region>-<node>`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import crr_metrics
from activities.crr_models import (
    CommitManifestInput,
    ListSegmentsInput,
    ListSegmentsResult,
    ReadShipWatermarkInput,
    SegmentRef,
    ShipRunInput,
    ShipRunResult,
    ShipSegmentInput,
    ShipWatermark,
)
from activities.follow import follow_limits
from activities.heartbeat import with_heartbeats
from activities.long_poll import long_poll
from activities.names import (
    COMMIT_MANIFEST,
    LIST_SEALED_SEGMENTS,
    READ_SHIP_WATERMARK,
    SHIP_RUN,
    SHIP_SEGMENT,
)
from activities.region_resources import RegionResources
from activities.wal_prune import ShippedWalPruner
from ledger import error_types
from ledger.config import Settings
from ledger.manifest import manifest_sha256
from ledger.shipped import ShippedSegment
from ledger.stream_id import StreamId
from storage.crr.errors import (
    CrrError,
    SegmentNotFoundError,
    ShipConflictError,
    VerificationError,
)
from storage.crr.region_keys import manifest_public_key, signing_key
from storage.crr.ship import commit_manifest, ship_segment
from storage.crr.ship_run import CommittedSegment, ShipContext, ship_following, ship_run
from storage.crr.watermark import read_ship_watermark
from storage.faults import crash_point
from storage.objectstore import ObjectStore, ObjectStoreError, open_object_store
from storage.wal import sealed_segments_after, stream_directory
from storage.wal.watch import SealWatch

_T = TypeVar("_T")
# Errors an operator must resolve; retrying cannot help.
_PERMANENT = (ShipConflictError, SegmentNotFoundError)
# The errors that name the store they failed on, by its URL.
_STORE_ERRORS = (ObjectStoreError, ShipConflictError, VerificationError)


class ShipActivities:
    """The shipping activities of one node's stream: they read its WAL directory and write to
    every ship target. A request for another stream fails, not retried (wrong task queue)."""

    def __init__(
        self, settings: Settings, region: str, node: str, resources: RegionResources | None = None
    ) -> None:
        """With `resources` (the worker's region connections), a ship run prunes the node's WAL
        behind what it shipped (`activities.wal_prune`); without, it never deletes anything."""
        self._settings = settings
        self._region_name, self._node = region, node
        self._region = settings.region(region)
        self._stream = str(StreamId(region, node))
        self._pruner = None if resources is None else self._make_pruner(resources)

    @property
    def wal_directory(self) -> Path:
        """The stream's WAL directory on this node."""
        return stream_directory(Path(self._region.wal_dir), self._stream)

    @cached_property
    def targets(self) -> dict[str, ObjectStore]:
        """The object store of each ship target region (the region's own when it names none)."""
        return {
            name: open_object_store(self._settings.region(name).object_store)
            for name in self._region.ship_targets or [self._region_name]
        }

    @cached_property
    def _public_key(self) -> Ed25519PublicKey:
        """What manifests copied between targets must verify under (the region's own key)."""
        return manifest_public_key(self._region_name, self._region)

    @activity.defn(name=SHIP_RUN)
    async def ship_run(self, request: ShipRunInput) -> ShipRunResult:
        """Upload the listed sealed segments (several at a time) and commit their manifests in
        order; with `follow`, go on with the segments sealed next, woken by each seal, until its
        limits say stop. Heartbeats its position after every commit and while it waits: a retry
        (the worker died) goes on from there. A cancellation (a pause) stops it at once and it
        returns how far it got."""
        self._check_stream(request.source.stream)
        progress = _checkpoint(request)
        if request.complete_commits_first or activity.info().attempt > 1:
            # A run that stopped part-way may have left its last manifest in some targets only.
            # It repairs the targets after the watermark too: heartbeat while it copies.
            last_seq, sha256 = await self._counting_errors(
                lambda: with_heartbeats(
                    read_ship_watermark(
                        self.targets,
                        self._stream,
                        self._public_key,
                        progress.last_seq,
                        progress.manifest_sha256,
                    ),
                    details=lambda: progress.model_dump(),
                )
            )
            progress = progress.model_copy(update={"last_seq": last_seq, "manifest_sha256": sha256})
        segments = [s for s in request.segments if s.last_seq > progress.last_seq]
        if request.follow is None and not segments:
            return progress
        if segments and segments[0].first_seq != progress.last_seq + 1:
            raise ApplicationError(
                f"{self._stream}: next sealed segment starts at seq "
                f"{segments[0].first_seq}, expected {progress.last_seq + 1}",
                progress.model_dump(),
                type=error_types.SEGMENT_NOT_FOUND,
                non_retryable=True,
            )

        async def committed(segment: CommittedSegment) -> None:
            nonlocal progress
            shipped = segment.shipped
            progress = ShipRunResult(
                last_seq=shipped.last_seq,
                manifest_sha256=segment.manifest_sha256,
                segments=progress.segments + 1,
                raw_bytes=progress.raw_bytes + shipped.raw_bytes,
                compressed_bytes=progress.compressed_bytes + shipped.compressed_bytes,
            )
            self._count_shipped(shipped)
            activity.heartbeat(progress.model_dump())

        async def caught_up() -> None:
            # Called while the run waits for a seal: the heartbeat is what brings a pause's
            # cancellation to it (within the worker's heartbeat throttle interval).
            activity.heartbeat(progress.model_dump())
            if self._pruner is not None:
                # Every manifest of the run so far is in every ship target; it rate-limits itself.
                await self._pruner.after_ship_run(progress.last_seq, progress.manifest_sha256)

        context = ShipContext(
            self.wal_directory,
            self._stream,
            self.targets,
            signing_key(self._region_name, self._region),
            self._settings.crr.zstd_level,
        )
        run = (
            ship_run(
                [segment.first_seq for segment in segments],
                context,
                progress.manifest_sha256,
                request.max_concurrent_uploads,
                committed,
            )
            if request.follow is None
            else ship_following(
                context,
                progress.last_seq,
                progress.manifest_sha256,
                request.max_concurrent_uploads,
                follow_limits(request.follow),
                committed,
                caught_up,
            )
        )
        try:
            await self._counting_errors(
                lambda: with_heartbeats(run, details=lambda: progress.model_dump())
            )
        except ApplicationError as exc:
            # The manifests committed before the failure stand: the details say how far.
            raise ApplicationError(
                exc.message, progress.model_dump(), type=exc.type, non_retryable=exc.non_retryable
            ) from exc
        except asyncio.CancelledError:
            return progress  # a pause: stop here and say how far the run got
        if self._pruner is not None:
            # Every manifest of the run is in every ship target now.
            await self._pruner.after_ship_run(progress.last_seq, progress.manifest_sha256)
        return progress

    def _make_pruner(self, resources: RegionResources) -> ShippedWalPruner:
        async def applied_position() -> int:
            dedup = await resources.dedup(self._region_name)
            return await dedup.applied_position(self._stream)

        return ShippedWalPruner(
            self.wal_directory, self._stream, self._settings.wal.retain_shipped_s, applied_position
        )

    @activity.defn(name=LIST_SEALED_SEGMENTS)
    async def list_sealed_segments(self, request: ListSegmentsInput) -> ListSegmentsResult:
        """Up to `limit` sealed segments after `after_seq`, waiting up to `poll.wait_s` for one
        (a seal ends the wait at once)."""
        self._check_stream(request.source.stream)

        async def look() -> ListSegmentsResult:
            segments = sealed_segments_after(self.wal_directory, request.after_seq)
            return ListSegmentsResult(
                segments=[
                    SegmentRef(first_seq=s.first_seq, last_seq=s.last_seq)
                    for s in segments[: request.limit]
                    if s.last_seq is not None
                ]
            )

        # The writer seals by a rename into the directory: a watch on it wakes the listing at
        # once (seal -> listed in well under a millisecond), the poll interval is the fallback.
        watch = SealWatch.start(self.wal_directory) if request.poll.wait_s > 0 else None
        wake = watch.wait if watch else None
        try:
            return await long_poll(look, lambda result: bool(result.segments), request.poll, wake)
        finally:
            if watch is not None:
                watch.close()

    @activity.defn(name=SHIP_SEGMENT)
    async def ship_segment(self, request: ShipSegmentInput) -> ShippedSegment:
        """Compress and upload the sealed segment starting at `first_seq` to every ship target;
        return what was uploaded, for its manifest commit."""
        self._check_stream(request.source.stream)
        shipped = await self._counting_errors(
            lambda: with_heartbeats(
                ship_segment(
                    self.wal_directory,
                    self._stream,
                    request.first_seq,
                    self.targets,
                    self._settings.crr.zstd_level,
                )
            )
        )
        crash_point("crr.ship.after_upload")
        return shipped

    @activity.defn(name=COMMIT_MANIFEST)
    async def commit_manifest(self, request: CommitManifestInput) -> str:
        """Sign and write the manifest; return its SHA-256 (the next manifest chains to it)."""
        self._check_stream(request.source.stream)
        shipped = request.segment
        # shipped_at is signed into the manifest, so it must be the same in every attempt: a
        # retry after a partial commit (one target written, another down) then writes the same
        # bytes, rather than different ones that first-write-wins would refuse.
        shipped_at_ms = int(activity.info().scheduled_time.timestamp() * 1000)
        manifest = await self._counting_errors(
            lambda: commit_manifest(
                shipped,
                request.prev_manifest_sha256,
                shipped_at_ms,
                signing_key(self._region_name, self._region),
                self.targets,
            )
        )
        self._count_shipped(shipped)
        return manifest_sha256(manifest)

    @activity.defn(name=READ_SHIP_WATERMARK)
    async def read_watermark(self, request: ReadShipWatermarkInput) -> ShipWatermark:
        """The last manifest committed to every ship target (an interrupted commit is completed
        first)."""
        self._check_stream(request.source.stream)
        # From seq 0 this audits and repairs the whole history: heartbeat while it copies.
        last_seq, sha256 = await self._counting_errors(
            lambda: with_heartbeats(
                read_ship_watermark(self.targets, self._stream, self._public_key)
            )
        )
        return ShipWatermark(last_seq=last_seq, manifest_sha256=sha256)

    def _count_shipped(self, shipped: ShippedSegment) -> None:
        for target in self.targets:
            crr_metrics.SEGMENTS_SHIPPED.labels(self._region_name, target).inc()
            crr_metrics.BYTES_SHIPPED.labels(self._region_name, target, "raw").inc(
                shipped.raw_bytes
            )
            crr_metrics.BYTES_SHIPPED.labels(self._region_name, target, "compressed").inc(
                shipped.compressed_bytes
            )
        if shipped.compressed_bytes:
            crr_metrics.COMPRESSION_RATIO.labels(self._region_name).set(
                shipped.raw_bytes / shipped.compressed_bytes
            )

    async def _counting_errors(self, step: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await step()
        except (CrrError, ObjectStoreError) as exc:
            target = _target_of(exc, self.targets)
            crr_metrics.SHIP_ERRORS.labels(self._region_name, target, type(exc).__name__).inc()
            raise ApplicationError(
                f"{self._stream}: {exc}",
                type=type(exc).__name__,
                non_retryable=isinstance(exc, _PERMANENT),
            ) from exc

    def _check_stream(self, stream: StreamId) -> None:
        if str(stream) != self._stream:
            raise ApplicationError(
                f"this worker ships {self._stream}, not {stream}: wrong task queue",
                type=error_types.WRONG_STREAM,
                non_retryable=True,
            )


def _target_of(exc: Exception, targets: dict[str, ObjectStore]) -> str:
    """The target region whose store failed (the URL in the error's `store`), or "unknown"."""
    failed = exc.store if isinstance(exc, _STORE_ERRORS) else None
    for name, store in targets.items():
        if failed is not None and store.describe() == failed:
            return name
    return "unknown"


def _checkpoint(request: ShipRunInput) -> ShipRunResult:
    """Where this attempt starts: the last attempt's heartbeat, or the request's watermark."""
    details = activity.info().heartbeat_details
    if details:
        return ShipRunResult.model_validate(details[0])
    return ShipRunResult(last_seq=request.after_seq, manifest_sha256=request.prev_manifest_sha256)
