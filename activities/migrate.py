"""Activities of DedupMigrationWorkflow (names: activities/names.py, payloads:
activities/migrate_models.py): thin wrappers over storage/dedup/reshard/ and the routing table.

- `migrate_begin`: take the stored plan (planned -> running) and say what the workflow needs.
- `migrate_advance_route`: append the next routing epoch (idempotent by its `from_epoch`).
- `migrate_route_acks`: which live writers have not acknowledged an epoch yet.
- `migrate_pair_run`: one bounded, throttled run of copy, catch-up, verify, re-verify or undo over
  one (source, target) pair of shards, heartbeating the key the next chunk starts after, so a
  copy, catch-up or undo retried after a killed worker resumes from the last chunk done (a
  verify starts its run over: what the killed attempt found was never reported).
- `migrate_cleanup_run`: the same for deleting moved keys from an old shard.
- `migrate_seal_positions` / `migrate_clear_positions`: the stream positions of a growing ring's
  new shards, claimed once the catch-up copy is done, or removed on rollback.
- `migrate_finish`: record the plan's end.

Refusals that retrying cannot fix (MigrationRefusedError, RoutingError, ReshardConflictError) are
non-retryable ApplicationErrors naming their type; the workflow stops on them and waits for an
operator. Everything else (a database that is down) retries.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import with_heartbeats
from activities.migrate_models import (
    AdvanceRouteInput,
    BeginInput,
    CleanupRunInput,
    CleanupRunResult,
    FinishInput,
    PairRunInput,
    PairRunResult,
    PassKind,
    PlanSummary,
    PositionsInput,
    RouteAcksInput,
    RouteMark,
    Throttle,
)
from activities.names import (
    MIGRATE_ADVANCE_ROUTE,
    MIGRATE_BEGIN,
    MIGRATE_CLEANUP_RUN,
    MIGRATE_CLEAR_POSITIONS,
    MIGRATE_FINISH,
    MIGRATE_PAIR_RUN,
    MIGRATE_ROUTE_ACKS,
    MIGRATE_SEAL_POSITIONS,
)
from ledger.config import Settings
from ledger.migration_plan import PlanState, moving_shards
from ledger.reshard_chunk import ChunkKey
from ledger.route_acks import RouteAcks
from storage.dedup.errors import MigrationRefusedError, ReshardConflictError, RoutingError
from storage.dedup.reshard.metrics import MIGRATION_KEYS_COPIED
from storage.dedup.reshard.passes import (
    PairPools,
    RunLimits,
    cleanup_run,
    copy_step,
    run_chunks,
    undo_step,
    verify_run,
)
from storage.dedup.reshard.plan_run import end_plan, take_plan
from storage.dedup.reshard.positions import clear_positions, seal_positions
from storage.dedup.route_epochs import advance_route, route_acks
from storage.dedup.routing import Phase
from storage.dedup.store import DedupStore
from storage.objectstore import ObjectStore

_T = TypeVar("_T")
_REFUSALS = (MigrationRefusedError, RoutingError, ReshardConflictError)


def _limits(throttle: Throttle) -> RunLimits:
    return RunLimits(throttle.rate_keys_per_s, throttle.chunk_keys, throttle.max_run_s)


class MigrateResources(Protocol):
    """What the activities need from the worker's shared per-region connections
    (`activities.region_resources.RegionResources` provides it)."""

    async def dedup(self, region: str) -> DedupStore:
        """The dedup store of `region` (pools of its control database and every shard)."""
        ...

    def store(self, region: str) -> ObjectStore:
        """The object store of `region` (where mismatch lists go)."""
        ...


class _Checkpoint:
    """The key a run's next chunk starts after: heartbeated after every chunk, and by every
    keep-alive heartbeat too (a heartbeat replaces the details of the one before), so a retry
    after a killed worker resumes from the last chunk done."""

    def __init__(self, after_key: ChunkKey | None) -> None:
        self.after_key = after_key

    def __call__(self, last_key: ChunkKey | None) -> None:
        self.after_key = last_key
        activity.heartbeat(last_key)

    def details(self) -> ChunkKey | None:
        return self.after_key


async def _refusing(work: Awaitable[_T], checkpoint: _Checkpoint | None = None) -> _T:
    """Heartbeat while `work` runs (with the checkpoint, if any); a refusal becomes a
    non-retryable error of its type."""
    try:
        details = None if checkpoint is None else checkpoint.details
        return await with_heartbeats(work, details=details)
    except _REFUSALS as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc


def _resumed(after_key: ChunkKey | None) -> ChunkKey | None:
    """Where a retried attempt starts: after the last chunk the killed one heartbeated."""
    details = activity.info().heartbeat_details
    if details and details[0] is not None:
        return (str(details[0][0]), str(details[0][1]))
    return after_key


class MigrateActivities:
    """The migrate queue's activities, sharing the worker's connections to every region."""

    def __init__(self, settings: Settings, resources: MigrateResources) -> None:
        self._settings = settings
        self._resources = resources

    async def _dedup(self, region: str) -> DedupStore:
        return await self._resources.dedup(region)

    @activity.defn(name=MIGRATE_BEGIN)
    async def begin(self, request: BeginInput) -> PlanSummary:
        """Take the stored plan; refused (non-retryable) as take_plan says."""
        dedup = await self._dedup(request.region)
        plan = await _refusing(
            take_plan(dedup.pools.control, request.migration_id, request.workflow_id)
        )
        return PlanSummary(
            migration_id=plan.id,
            region=plan.region,
            from_ring=plan.from_ring,
            to_ring=plan.to_ring,
            routing_epoch=plan.routing_epoch,
            keys_to_move=plan.total_keys,
            rate_keys_per_s=plan.rate_keys_per_s,
        )

    @activity.defn(name=MIGRATE_ADVANCE_ROUTE)
    async def advance(self, request: AdvanceRouteInput) -> RouteMark:
        """Append the epoch after `from_epoch` (or find it appended by an earlier attempt)."""
        dedup = await self._dedup(request.region)

        async def append() -> RouteMark:
            async with dedup.pools.control.acquire() as conn:
                route = await advance_route(
                    conn,
                    from_epoch=request.from_epoch,
                    ring_size=request.ring_size,
                    next_ring_size=request.next_ring_size,
                    phase=Phase(request.phase),
                    migration_id=request.migration_id,
                )
            return RouteMark(
                epoch=route.epoch,
                phase=route.phase.value,
                ring_size=route.ring_size,
                next_ring_size=route.next_ring_size,
            )

        return await _refusing(append())

    @activity.defn(name=MIGRATE_ROUTE_ACKS)
    async def acks(self, request: RouteAcksInput) -> RouteAcks:
        """The live writers that acknowledged the epoch and those that have not yet."""
        dedup = await self._dedup(request.region)
        migrate = self._settings.migrate
        async with dedup.pools.control.acquire() as conn:
            return await route_acks(
                conn, request.epoch, live_within_s=migrate.route_lease_s + migrate.route_poll_s
            )

    @activity.defn(name=MIGRATE_PAIR_RUN)
    async def pair_run(self, request: PairRunInput) -> PairRunResult:
        """One bounded run of a pass over one pair, resuming after the last heartbeated key."""
        dedup = await self._dedup(request.region)
        shards = dedup.pools.shards
        pair = PairPools(
            shards[request.pair.source],
            shards[request.pair.target],
            request.from_ring,
            request.to_ring,
            request.pair.source,
            request.pair.target,
        )
        limits = _limits(request.throttle)
        verifying = request.kind in (PassKind.VERIFY, PassKind.REVERIFY)
        # A verify run starts over when retried: what a killed attempt found in its first chunks
        # was never reported. Runs are bounded, so that costs at most one run. Moves resume.
        checkpoint = _Checkpoint(request.after_key if verifying else _resumed(request.after_key))
        work: Awaitable[PairRunResult]
        if verifying:
            work = self._verify(request, pair, limits, checkpoint.after_key, checkpoint)
        else:
            work = self._move(request, pair, limits, checkpoint.after_key, checkpoint)
        return await _refusing(work, checkpoint)

    async def _move(
        self,
        request: PairRunInput,
        pair: PairPools,
        limits: RunLimits,
        after_key: ChunkKey | None,
        checkpoint: Any,
    ) -> PairRunResult:
        totals = {"keys": 0, "copies": 0, "written": 0, "merged": 0}
        copying = request.kind is not PassKind.UNDO
        copied = MIGRATION_KEYS_COPIED.labels(id=request.migration_id, region=request.region)

        def counted(chunk: Any) -> None:
            totals["keys"] += chunk.keys
            totals["copies"] += chunk.copies
            if copying:
                totals["written"] += chunk.written
                totals["merged"] += chunk.merged
                copied.inc(chunk.keys)
            checkpoint(chunk.last_key)

        step = copy_step(pair) if copying else undo_step(pair)
        cursor, done, seconds = await run_chunks(step, after_key, limits, counted)
        return PairRunResult(after_key=cursor, done=done, seconds=seconds, **totals)

    async def _verify(
        self,
        request: PairRunInput,
        pair: PairPools,
        limits: RunLimits,
        after_key: ChunkKey | None,
        checkpoint: Any,
    ) -> PairRunResult:
        outcome = await verify_run(
            pair,
            self._resources.store(request.region),
            request.migration_id,
            request.kind.value,
            after_key,
            limits,
            request.settle_s,
            checkpoint,
        )
        return PairRunResult(
            after_key=outcome.after_key,
            done=outcome.done,
            seconds=outcome.seconds,
            mismatch_objects=outcome.objects,
            **outcome.totals,
        )

    @activity.defn(name=MIGRATE_CLEANUP_RUN)
    async def cleanup(self, request: CleanupRunInput) -> CleanupRunResult:
        """One bounded run of deleting covered moved keys from an old shard."""
        dedup = await self._dedup(request.region)
        shards = dedup.pools.shards
        targets = {
            shard: shards[shard] for shard in range(request.to_ring) if shard != request.shard
        }
        limits = _limits(request.throttle)
        checkpoint = _Checkpoint(_resumed(request.after_key))
        outcome = await _refusing(
            cleanup_run(
                shards[request.shard],
                targets,
                from_ring=request.from_ring,
                to_ring=request.to_ring,
                shard=request.shard,
                after_key=checkpoint.after_key,
                limits=limits,
                on_chunk=checkpoint,
            ),
            checkpoint,
        )
        return CleanupRunResult(
            after_key=outcome.after_key,
            done=outcome.done,
            seconds=outcome.seconds,
            **outcome.totals,
        )

    @activity.defn(name=MIGRATE_SEAL_POSITIONS)
    async def seal(self, request: PositionsInput) -> dict[str, int]:
        """Per new shard of a growing ring, the positions it now claims (nothing when shrinking:
        the shards that receive keys there keep positions of their own)."""
        dedup = await self._dedup(request.region)
        sources, targets = moving_shards(request.from_ring, request.to_ring)
        if request.to_ring < request.from_ring:
            return {}
        sealed: dict[str, int] = {}
        for target in targets:
            written = await with_heartbeats(
                seal_positions([dedup.pools.shards[s] for s in sources], dedup.pools.shards[target])
            )
            sealed.update({f"{target}:{stream}": seq for stream, seq in written.items()})
        return sealed

    @activity.defn(name=MIGRATE_CLEAR_POSITIONS)
    async def clear(self, request: PositionsInput) -> int:
        """Remove the positions of a growing ring's new shards (rollback); return how many
        shards were cleared."""
        dedup = await self._dedup(request.region)
        if request.to_ring < request.from_ring:
            return 0
        new_shards = range(request.from_ring, request.to_ring)
        for shard in new_shards:
            await clear_positions(dedup.pools.shards[shard])
        return len(new_shards)

    @activity.defn(name=MIGRATE_FINISH)
    async def finish(self, request: FinishInput) -> None:
        """Record the plan done or rolled back."""
        dedup = await self._dedup(request.region)
        await end_plan(dedup.pools.control, request.migration_id, PlanState(request.state))
