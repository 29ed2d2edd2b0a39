"""Exports the tier gauges of every region (storage/tiering/gauges.py) every
`[tier_status] sample_interval_s`.

It runs in the `geoledger-ops` worker, not beside demotion on `geoledger-tiering`: like the CRR
lag monitor, it measures independently of the workflows it watches, so
tier_demotion_lag_seconds keeps rising, and DemotionBehind keeps firing, while the tiering
worker is down, crash-looping or stuck in a batch.
"""

from __future__ import annotations

import asyncio
import logging
import time

from activities.region_resources import RegionResources
from ledger.config import Settings
from storage.tiering.gauges import TierGauges
from workers.tier_snapshot import region_tiers

log = logging.getLogger("geoledger.tiering.sampler")


class TierSampler:
    def __init__(self, settings: Settings, resources: RegionResources) -> None:
        self._settings = settings
        self._resources = resources
        self._gauges = TierGauges()

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self._settings.tier_status.sample_interval_s)

    async def sample(self) -> None:
        """Export every region once; a region that fails keeps its last values (and is logged)
        while the others are measured."""
        for region in self._settings.regions:
            try:
                await self.sample_region(region, int(time.time() * 1000))
            except Exception as exc:  # one region down must not stop measuring the others
                log.warning("tier gauges of %s not sampled: %s", region, exc)

    async def sample_region(self, region: str, as_of_ms: int) -> None:
        store = await self._resources.dedup(region)
        tiers = await region_tiers(self._settings, region, store)
        self._gauges.export(region, tiers.tenants, tiers.policies, as_of_ms)
