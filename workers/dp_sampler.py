"""Exports the DP budget metrics (storage/dp/metrics.py) every `[dp] sample_interval_s`, read
from the budget region's control database.

It runs in the `geoledger-ops` worker beside the other samplers: `geoledger export dp` exits
before any scrape, so the long-lived ops worker is what Prometheus sees.
"""

from __future__ import annotations

import asyncio
import logging

from ledger.config import Settings
from storage.dp.budget_db import budget_db
from storage.dp.budget_store import export_counts, read_budgets
from storage.dp.metrics import export_dp_metrics

log = logging.getLogger("geoledger.dp.sampler")


class DpSampler:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self._settings.dp.sample_interval_s)

    async def sample(self) -> None:
        """Read every budget and the export counts once; a failure is logged and the series
        keep their last values."""
        try:
            async with budget_db(self._settings) as conn:
                budgets = await read_budgets(conn)
                counts = await export_counts(conn)
        except Exception as exc:  # the database down must not stop the worker's other samplers
            log.warning("dp budget metrics not sampled: %s", exc)
            return
        export_dp_metrics(budgets, counts)
