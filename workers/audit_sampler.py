"""Exports the audit gauges of every region (storage/audit/gauges.py) every
`[audit] sample_interval_s`.

It runs in the `geoledger-ops` worker, not beside the audit activities on `geoledger-audit`:
measured independently of the pipeline it watches, audit_backlog_age_seconds keeps rising (and
AuditBacklogAge fires) while the audit worker is down, crash-looping or stuck.
"""

from __future__ import annotations

import asyncio
import logging

from activities.region_resources import RegionResources
from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.audit.gauges import export, sample_region
from storage.audit.witness_keys import witness_targets

log = logging.getLogger("geoledger.audit.sampler")


class AuditSampler:
    def __init__(self, settings: Settings, resources: RegionResources) -> None:
        self._settings = settings
        self._resources = resources

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self._settings.audit.sample_interval_s)

    async def sample(self) -> None:
        """Export every region once; a region that fails keeps its last values (and is logged)
        while the others are measured."""
        for region in self._settings.regions:
            try:
                await self.sample_region(region)
            except Exception as exc:  # one region down must not stop measuring the others
                log.warning("audit gauges of %s not sampled: %s", region, exc)

    async def sample_region(self, region: str) -> None:
        dedup = await self._resources.dedup(region)
        nodes = self._settings.region(region).stream_nodes
        streams = [str(StreamId(region, node)) for node in nodes]
        sample = await sample_region(dedup.pools.control, self._resources.store(region), streams)
        origin = self._settings.audit.origin(region)
        witnesses = [target.name for target in witness_targets(self._settings, origin)]
        export(region, sample, witnesses)
