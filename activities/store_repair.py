"""The shipper's store audit: one bounded window of its stream's history per call, compared in
every ship target and repaired from peers (storage/crr/store_repair.py). Runs beside the node, on
its own task queue, so `wal_crr_store_missing_objects` is exported next to its lag."""

from __future__ import annotations

from functools import cached_property

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import crr_metrics
from activities.crr_models import RepairStoreInput, RepairStoreResult, StoreAuditCursor
from activities.heartbeat import with_heartbeats
from activities.names import REPAIR_STORE
from ledger import error_types
from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.crr.naming import manifests_prefix
from storage.crr.region_keys import manifest_public_key
from storage.crr.store_repair import StoreRepairReport, repair_stream
from storage.objectstore import ObjectStore, ObjectStoreError, open_object_store

# How many unrepaired objects a result names (the gauge counts them all).
_PROBLEMS_NAMED = 5


class StoreRepairActivities:
    """The store audit activity of one node's stream, over every ship target. A request for
    another stream fails, not retried (wrong task queue)."""

    def __init__(self, settings: Settings, region: str, node: str) -> None:
        self._settings = settings
        self._region_name = region
        self._region = settings.region(region)
        self._stream = str(StreamId(region, node))

    @cached_property
    def targets(self) -> dict[str, ObjectStore]:
        """The object store of each ship target region (the region's own when it names none)."""
        return {
            name: open_object_store(self._settings.region(name).object_store)
            for name in self._region.ship_targets or [self._region_name]
        }

    @activity.defn(name=REPAIR_STORE)
    async def repair_store(self, request: RepairStoreInput) -> RepairStoreResult:
        """Audit and repair the window after `request.cursor`, and return the next cursor (back
        to seq 0 after the newest manifest). A target whose first manifest differs from its
        peers' (a store that lost its beginning, or everything) gets the window from seq 0 too."""
        if str(request.source.stream) != self._stream:
            raise ApplicationError(
                f"this worker audits {self._stream}, not {request.source.stream}: wrong task queue",
                type=error_types.WRONG_STREAM,
                non_retryable=True,
            )
        cursor = request.cursor
        try:
            reports = await with_heartbeats(self._audit(cursor))
        except ObjectStoreError as exc:
            raise ApplicationError(
                f"{self._stream}: store audit: {exc}", type=type(exc).__name__
            ) from exc
        window = reports[-1]
        # What each target still lacks (objects nobody holds count for every target); the two
        # windows may overlap, so the larger of them, added to the round so far.
        remaining = {
            name: max(report.remaining(name) + len(report.lost) for report in reports)
            + cursor.round_remaining.get(name, 0)
            for name in self.targets
        }
        if window.complete:
            cursor = StoreAuditCursor(last_round_remaining=remaining)
        else:
            cursor = StoreAuditCursor(
                after_seq=window.through_seq,
                after_sha256=window.through_sha256,
                round_remaining=remaining,
                last_round_remaining=cursor.last_round_remaining,
            )
        for name in self.targets:
            # Until a round completes, the worse of the last round and this one so far.
            crr_metrics.STORE_MISSING_OBJECTS.labels(self._region_name, name).set(
                max(remaining[name], cursor.last_round_remaining.get(name, 0))
            )
        problems = [
            f"{p.target or 'every target'}: {p.key}: {p.reason}"
            for report in reports
            for p in (*report.refused, *report.conflicts, *report.lost)
        ]
        return RepairStoreResult(
            cursor=cursor,
            repaired=sum(sum(report.repaired.values()) for report in reports),
            problems=problems[:_PROBLEMS_NAMED],
        )

    async def _audit(self, cursor: StoreAuditCursor) -> list[StoreRepairReport]:
        public_key = manifest_public_key(self._region_name, self._region)
        window = self._settings.crr.store_audit_manifests
        reports = []
        if cursor.after_seq and await self._beginnings_differ():
            reports.append(
                await repair_stream(self.targets, self._stream, public_key, max_manifests=window)
            )
        reports.append(
            await repair_stream(
                self.targets,
                self._stream,
                public_key,
                cursor.after_seq,
                cursor.after_sha256,
                max_manifests=window,
            )
        )
        return reports

    async def _beginnings_differ(self) -> bool:
        """One listing call per target: do all of them start the chain at the same manifest?"""
        firsts = set()
        for store in self.targets.values():
            first = None
            async for info in store.list(prefix=manifests_prefix(self._stream), limit=1):
                first = info.key
            firsts.add(first)
        return len(firsts) > 1
