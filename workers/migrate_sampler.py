"""Exports the re-sharding gauges (storage/dedup/reshard/metrics.py) every
`[migrate] sample_interval_s`: the progress of every DedupMigrationWorkflow that runs or closed
within the last hour (asked by query, so the gauges are right after a restart), and each
configured shard's key count.

It runs in the `geoledger-ops` worker, not beside the migration it watches: when the migrate
worker is down its workflow answers no query, the gauges keep their last values, and
MigrationStalled fires as the last progress grows old.

`migration_last_progress_timestamp_seconds` is when the sampler last saw a migration move (its
phase, pass, chunk or acknowledgements changed): MigrationStalled compares it with the clock.
"""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio.client import Client

from activities.migrate_models import STAGE_NUMBERS, MigrationProgress
from activities.region_resources import RegionResources
from ledger.config import Settings
from storage.dedup.read import keys_per_shard
from storage.dedup.reshard.metrics import (
    DEDUP_SHARD_KEYS,
    MIGRATION_AWAITING_OPERATOR,
    MIGRATION_LAST_PROGRESS,
    MIGRATION_PHASE,
    MIGRATION_RATE,
    MIGRATION_VERIFY_MISMATCHES,
)
from workers.client import connect
from workflows.dedup_migration import DedupMigrationWorkflow
from workflows.migration_ids import WORKFLOW_ID_PREFIX

log = logging.getLogger("geoledger.migrate.sampler")

RECENT = (
    "WorkflowType = 'DedupMigrationWorkflow' AND "
    "(ExecutionStatus = 'Running' OR CloseTime > '{since}')"
)


class MigrateSampler:
    def __init__(self, settings: Settings, resources: RegionResources) -> None:
        self._settings = settings
        self._resources = resources
        self._client: Client | None = None
        self._seen: dict[str, tuple[object, ...]] = {}

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self._settings.migrate.sample_interval_s)

    async def sample(self) -> None:
        """Export every migration and every region's shards once; what fails is logged and keeps
        its last values while the rest is measured."""
        try:
            await self.sample_migrations()
        except Exception as exc:  # Temporal down must not stop counting the shards
            log.warning("migration gauges not sampled: %s", exc)
        for region in self._settings.regions:
            try:
                await self.sample_shards(region)
            except Exception as exc:  # one region down must not stop measuring the others
                log.warning("dedup_shard_keys of %s not sampled: %s", region, exc)

    async def sample_migrations(self) -> None:
        if self._client is None:
            self._client = await connect(self._settings)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        async for execution in self._client.list_workflows(RECENT.format(since=since)):
            if not execution.id.startswith(WORKFLOW_ID_PREFIX):
                continue
            handle = self._client.get_workflow_handle(execution.id, run_id=execution.run_id)
            progress: MigrationProgress = await handle.query(DedupMigrationWorkflow.progress)
            self.export(progress)

    def export(self, progress: MigrationProgress) -> None:
        labels = {"id": progress.migration_id, "region": progress.region}
        MIGRATION_PHASE.labels(**labels).set(STAGE_NUMBERS[progress.stage])
        MIGRATION_VERIFY_MISMATCHES.labels(**labels).set(progress.mismatches)
        MIGRATION_RATE.labels(**labels).set(progress.rate_keys_per_s)
        waiting = progress.waiting_for or ""
        awaiting = "approval" in waiting or (progress.paused and not progress.last_error)
        MIGRATION_AWAITING_OPERATOR.labels(**labels).set(1 if awaiting else 0)
        moved = (
            progress.stage,
            progress.step,
            progress.pass_name,
            progress.pass_keys,
            progress.keys_cleaned,
            progress.route_epoch,
            len(progress.pending_nodes),
        )
        if self._seen.get(progress.migration_id) != moved:
            self._seen[progress.migration_id] = moved
            MIGRATION_LAST_PROGRESS.labels(**labels).set(time.time())

    async def sample_shards(self, region: str) -> None:
        dedup = await self._resources.dedup(region)
        counts = await keys_per_shard(dedup.pools.shards)
        for shard, count in enumerate(counts):
            DEDUP_SHARD_KEYS.labels(region=region, shard=str(shard)).set(count)
