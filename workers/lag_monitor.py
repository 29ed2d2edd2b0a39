"""Exports `wal_crr_lag_seconds{source,target}` for one stream: the age of the oldest record of
the stream that a target region has not applied yet.

It runs beside the node (it reads the node's WAL for the record's acceptance time) and asks each
target region's dedup store for its replay watermark, independently of the ship and replay
workflows - so the lag keeps growing, and alerting, while shipping fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from activities.crr_metrics import LAG_SECONDS
from activities.region_resources import RegionResources
from ledger.config import Settings
from ledger.record import decode_record
from ledger.stream_id import StreamId
from storage.wal import WalPrunedError, iter_records, read_checkpoint, stream_directory

log = logging.getLogger("geoledger.crr.lag")


class LagMonitor:
    def __init__(
        self, settings: Settings, region: str, node: str, resources: RegionResources
    ) -> None:
        self._settings = settings
        self._region, self._node = region, node
        self._stream = str(StreamId(region, node))
        self._resources = resources
        self._wal = stream_directory(Path(settings.region(region).wal_dir), self._stream)
        self._targets = [t for t in settings.region(region).ship_targets if t != region]

    async def run(self) -> None:
        while True:
            for target in self._targets:
                try:
                    LAG_SECONDS.labels(self._stream, target).set(await self.lag_seconds(target))
                except Exception as exc:  # a target down must not stop measuring the others
                    log.warning("lag of %s at %s unknown: %s", self._stream, target, exc)
            await asyncio.sleep(self._settings.crr.lag_sample_interval_s)

    async def lag_seconds(self, target: str) -> float:
        dedup = await self._resources.dedup(target)
        applied = await dedup.applied_position(self._stream)
        oldest = await asyncio.to_thread(self._accepted_at_ms_after, applied)
        if oldest is None:
            return 0.0
        return max(0.0, time.time() - oldest / 1000)

    def _accepted_at_ms_after(self, seq: int) -> int | None:
        if not self._wal.is_dir():
            return None  # the node has never written: nothing of it can be behind
        try:
            for _, raw in iter_records(self._wal, after_seq=seq):
                return decode_record(raw).accepted_at_ms
        except WalPrunedError:
            # The oldest record the target lacks was pruned here (shipped, older than the
            # retention). It was accepted before its segment was sealed, and so before the newest
            # pruned segment was: that time bounds its age from below, and alerts all the same.
            return read_checkpoint(self._wal).pruned_sealed_at_ms
        return None
