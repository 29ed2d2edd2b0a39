"""Running re-shardings in tests: a region given more shard databases than its ring uses, a plan
measured and stored, the migrate queue's real worker, and waiting for a migration to get
somewhere (no tests here)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from temporalio.client import Client
from temporalio.service import RPCError

from activities.migrate_models import MigrationProgress, Stage
from ledger.config import Settings
from ledger.migrate_config import MigrateConfig
from ledger.migration_plan import MigrationPlan
from storage.dedup.migrate import migrate_region
from storage.dedup.plan import plan_migration
from tests.conftest import RunningStack
from tests.support.queue_worker import registered_worker
from workers.migrate_control import migration_progress, start_migration
from workflows import queues

FAST = MigrateConfig(
    rate_keys_per_s=20_000,
    chunk_keys=200,
    max_run_s=1.0,
    cleanup_grace_s=3_600,
    settle_s=0.3,
    acks_poll_s=0.2,
    heartbeat_timeout_s=5.0,
    route_poll_s=0.2,
    route_lease_s=3.0,
    sample_interval_s=1.0,
)
"""[migrate] for tests: short runs and quick acknowledgements; cleanup waits for an approval."""


async def with_shards(
    running_stack: RunningStack, settings: Settings, region: str, shards: int
) -> Settings:
    """`settings` whose `region` lists `shards` shard databases (the new ones fresh and
    migrated); its route keeps the ring it has. [migrate] is FAST."""
    config = settings.region(region)
    have = len(config.shard_dsns)
    base = config.shard_dsns[0].rsplit("/", 1)[0]
    tag = config.shard_dsns[0].rsplit("/", 1)[1].rsplit("shard", 1)[0]
    names = [f"{tag}shard{i}" for i in range(have, shards)]
    await running_stack.stack.postgres.ensure_databases(names)
    grown = config.model_copy(
        update={"shard_dsns": [*config.shard_dsns, *(f"{base}/{name}" for name in names)]}
    )
    await migrate_region(grown)
    regions = {**settings.regions, region: grown}
    return settings.model_copy(update={"regions": regions, "migrate": FAST})


async def stored_plan(settings: Settings, region: str, to_ring: int) -> MigrationPlan:
    """A measured, stored plan to re-shard `region` to `to_ring` shards."""
    outcome = await plan_migration(
        region, settings.region(region), to_ring, settings.migrate.rate_keys_per_s, lambda _: None
    )
    assert outcome.plan is not None, outcome.report.failed
    return outcome.plan


@contextlib.asynccontextmanager
async def migrate_worker(client: Client, settings: Settings) -> AsyncIterator[str]:
    """The migrate queue's real registration on a queue of its own; its name."""
    async with registered_worker(client, settings, queues.MIGRATE) as name:
        yield name


async def start(
    client: Client,
    settings: Settings,
    plan: MigrationPlan,
    queue: str,
    *,
    auto_approve: bool = False,
    rate: float | None = None,
) -> None:
    await start_migration(
        client, settings, plan, auto_approve=auto_approve, rate_keys_per_s=rate, task_queue=queue
    )


async def wait_for(
    client: Client,
    plan_id: str,
    condition: Callable[[MigrationProgress], bool],
    timeout_s: float = 90,
) -> MigrationProgress:
    """Poll the migration's progress until `condition` holds; fail naming where it stood."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            progress = await migration_progress(client, plan_id)
        except RPCError:
            # A query goes to the worker that ran the last task; after that worker was killed
            # it times out until the workflow is picked up again.
            if time.monotonic() > deadline:
                raise
            continue
        if condition(progress):
            return progress
        if progress.stage in (Stage.DONE, Stage.ROLLED_BACK) or time.monotonic() > deadline:
            raise AssertionError(f"migration {plan_id} never got there: {progress}")
        await asyncio.sleep(0.1)


def at(stage: Stage, *, waiting: str | None = None) -> Callable[[MigrationProgress], bool]:
    """In `stage` (and, with `waiting`, waiting for something that mentions it)."""

    def holds(progress: MigrationProgress) -> bool:
        if progress.stage is not stage:
            return False
        return waiting is None or waiting in (progress.waiting_for or "")

    return holds
