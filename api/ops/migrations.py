"""`GET /v1/ops/migrations[/{id}]`: the re-sharding runs of every region, as each region's routing
table records them (the epochs a run appended name it in `migration_id`)."""

from __future__ import annotations

import asyncio
from itertools import groupby

from api.ops.databases import OpsDatabases, Outcome, RegionDatabases, outcome_of
from api.ops.errors import MigrationNotFound, RegionsUnavailable
from api.ops.models import MigrationEpochInfo, MigrationInfo, MigrationsAnswer
from storage.dedup.inspect import MigrationEpoch, fetch_migration_epochs
from storage.dedup.routing import Phase, Route, read_current_route


async def migrations(databases: OpsDatabases) -> MigrationsAnswer:
    """Every run of every region that could be read, newest first, and the regions that could
    not be read with the reason."""
    found = await asyncio.gather(*(_region_runs(r) for r in databases.regions))
    runs = [run for outcome in found if outcome.value for run in outcome.value]
    runs.sort(key=lambda run: (run.started_at, run.region, run.id), reverse=True)
    unavailable = {
        region.name: outcome.error
        for region, outcome in zip(databases.regions, found, strict=True)
        if outcome.error is not None
    }
    return MigrationsAnswer(migrations=runs, unavailable=unavailable)


async def migration(databases: OpsDatabases, migration_id: str) -> MigrationInfo:
    """The run `migration_id`. Raises MigrationNotFound when no region has it, and
    RegionsUnavailable when none that could be read has it but some region could not be."""
    answer = await migrations(databases)
    for run in answer.migrations:
        if run.id == migration_id:
            return run
    if answer.unavailable:
        raise RegionsUnavailable(
            f"migration {migration_id!r} not found in the regions read; unreadable: "
            + "; ".join(f"{name}: {error}" for name, error in answer.unavailable.items())
        )
    raise MigrationNotFound(migration_id)


async def _region_runs(region: RegionDatabases) -> Outcome[list[MigrationInfo]]:
    return await outcome_of(_read_runs(region))


async def _read_runs(region: RegionDatabases) -> list[MigrationInfo]:
    pool = await region.control.get()
    async with pool.acquire() as conn:
        epochs = await fetch_migration_epochs(conn)
        current = await read_current_route(conn)
    runs = []
    ordered = sorted(epochs, key=lambda e: (str(e.route.migration_id), e.route.epoch))
    for migration_id, group in groupby(ordered, key=lambda e: str(e.route.migration_id)):
        runs.append(_run(region.name, migration_id, list(group), current))
    return runs


def _run(
    region: str, migration_id: str, epochs: list[MigrationEpoch], current: Route
) -> MigrationInfo:
    first, last = epochs[0], epochs[-1]
    return MigrationInfo(
        id=migration_id,
        region=region,
        from_ring_size=first.route.ring_size,
        to_ring_size=first.route.next_ring_size,
        phase=last.route.phase,
        active=current.migration_id == migration_id and current.phase is not Phase.STABLE,
        started_at=first.created_at,
        updated_at=last.created_at,
        epochs=[
            MigrationEpochInfo(
                epoch=e.route.epoch,
                phase=e.route.phase,
                ring_size=e.route.ring_size,
                next_ring_size=e.route.next_ring_size,
                created_at=e.created_at,
            )
            for e in epochs
        ],
    )
