"""Activities of ReplayWalWorkflow: read a source stream's manifests from the target region's own
store, verify everything (I5, I1) and apply to the target region's dedup store (I3)."""

from __future__ import annotations

import time
from collections import Counter as Tally
from functools import cached_property

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
from activities.names import APPLY_SEGMENT, LIST_MANIFESTS, REPLAY_POSITION
from activities.region_resources import RegionResources
from ledger.config import Settings
from ledger.errors import RecordDecodeError
from ledger.record import decode_record
from ledger.signing import verify
from storage.crr.errors import VerificationError
from storage.crr.naming import ManifestRef
from storage.crr.region_keys import manifest_public_key
from storage.crr.replay import list_manifests_after, load_verified_segment
from storage.dedup.from_wal import dedup_record_from
from storage.dedup.models import DedupRecord, Outcome
from storage.faults import crash_point


class ReplayActivities:
    def __init__(self, settings: Settings, resources: RegionResources) -> None:
        self._settings = settings
        self._resources = resources
        self._gap_since: dict[tuple[str, str], float] = {}

    @cached_property
    def _manifest_keys(self) -> dict[str, object]:
        return {
            name: manifest_public_key(name, region)
            for name, region in self._settings.regions.items()
        }

    @activity.defn(name=REPLAY_POSITION)
    async def replay_position(self, request: ReplayPositionInput) -> ReplayPosition:
        dedup = await self._resources.dedup(request.into_region)
        return ReplayPosition(applied_seq=await dedup.applied_position(request.source.stream))

    @activity.defn(name=LIST_MANIFESTS)
    async def list_manifests(self, request: ListManifestsInput) -> ListManifestsResult:
        stream, target = request.source.stream, request.into_region
        store = self._resources.store(target)
        listing = await list_manifests_after(store, stream, request.after_seq, request.limit)
        self._export_gap(stream, target, blocked=bool(listing.gap_first_seq and not listing.ready))
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
            segment = await load_verified_segment(
                self._resources.store(target),
                ref,
                stream,
                manifest_public_key(
                    request.source.region, self._settings.region(request.source.region)
                ),
                request.expected_prev_sha256,
            )
            records = await self._verified_events(segment.records, request)
        except VerificationError as exc:
            raise ApplicationError(str(exc), type="VerificationError", non_retryable=True) from exc
        activity.heartbeat(ref.last_seq)
        dedup = await self._resources.dedup(target)
        results = await dedup.apply(records, stream=stream, through_seq=ref.last_seq)
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

    async def _verified_events(
        self, frames: list[tuple[int, bytes]], request: ApplySegmentInput
    ) -> list[DedupRecord]:
        """Decode every record and re-verify its event signature against the target region's
        key registry (I1). A key revoked after the event was accepted still verifies it: the
        source accepted it while the key was valid, and skipping it would diverge the regions."""
        keys = await self._resources.keys(request.into_region)
        records: list[DedupRecord] = []
        for seq, raw in frames:
            try:
                record = decode_record(raw)
            except RecordDecodeError as exc:
                raise VerificationError(f"{request.source.stream} seq {seq}: {exc}") from exc
            if (record.region, record.node) != (request.source.region, request.source.node):
                raise VerificationError(
                    f"{request.source.stream} seq {seq}: record names stream "
                    f"{record.region}/{record.node}"
                )
            event = record.event
            known = await keys.get(event.key_id)
            if known is None or known.tenant_id != event.tenant_id:
                raise VerificationError(
                    f"{request.source.stream} seq {seq}: key {event.key_id!r} of tenant "
                    f"{event.tenant_id!r} is unknown in region {request.into_region}"
                )
            if not verify(known.ed25519(), event):
                raise VerificationError(
                    f"{request.source.stream} seq {seq}: event {event.event_id!r} signature "
                    "does not verify"
                )
            records.append(dedup_record_from(record, seq))
        return records

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
