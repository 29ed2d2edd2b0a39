"""The steps DedupMigrationWorkflow is made of: appending a routing epoch, waiting for every
writer's acknowledgement, and one bounded run of a pass (copy, verify, catch-up, re-verify, undo,
cleanup) over the next pair of shards not done, its cursor kept in the state. Each step is
idempotent: an epoch by the one it follows, a run by the key it resumes after."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.migrate_models import (
        AdvanceRouteInput,
        CleanupRunInput,
        CleanupRunResult,
        MigrationInput,
        MigrationState,
        PairCursor,
        PairRunInput,
        PairRunResult,
        PassKind,
        PlanSummary,
        PositionsInput,
        RouteAcksInput,
        RouteMark,
        ShardPair,
        Throttle,
    )
    from activities.names import (
        MIGRATE_ADVANCE_ROUTE,
        MIGRATE_CLEANUP_RUN,
        MIGRATE_PAIR_RUN,
        MIGRATE_ROUTE_ACKS,
    )
    from ledger.migration_plan import moving_shards
    from ledger.route_acks import NodeAck, RouteAcks

# A database that is down retries with backoff until it is back; refusals are non-retryable.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
SHORT_STEP = timedelta(minutes=2)
VERIFY_PASSES = (PassKind.VERIFY, PassKind.REVERIFY)


class MigrationSteps:
    """The steps; the workflow class strings them into phases."""

    _id: str
    _request: MigrationInput
    _state: MigrationState
    _pending_nodes: list[NodeAck]
    _waiting_for: str | None

    def _plan(self) -> PlanSummary:
        assert self._state.plan is not None
        return self._state.plan

    async def _route(self, phase: str, ring_size: int | None = None) -> None:
        """Make the route `phase` (migrating from the plan's ring to its target, or, for
        `stable`, a plain ring of `ring_size`), appending the epoch unless it is already."""
        plan, state = self._plan(), self._state
        assert state.route is not None
        ring = ring_size if ring_size is not None else plan.from_ring
        next_ring = None if phase == "stable" else plan.to_ring
        current = state.route
        if (current.phase, current.ring_size, current.next_ring_size) == (phase, ring, next_ring):
            return
        state.route = await workflow.execute_activity(
            MIGRATE_ADVANCE_ROUTE,
            AdvanceRouteInput(
                migration_id=self._id,
                region=plan.region,
                from_epoch=current.epoch,
                phase=phase,
                ring_size=ring,
                next_ring_size=next_ring,
            ),
            result_type=RouteMark,
            start_to_close_timeout=SHORT_STEP,
            retry_policy=STEP_RETRY,
        )

    async def _acked(self) -> None:
        """Wait until every live writer of the region has acknowledged the current epoch."""
        state = self._state
        assert state.route is not None
        epoch = state.route.epoch
        while state.acked_epoch < epoch:
            found: RouteAcks = await workflow.execute_activity(
                MIGRATE_ROUTE_ACKS,
                RouteAcksInput(region=self._plan().region, epoch=epoch),
                result_type=RouteAcks,
                start_to_close_timeout=SHORT_STEP,
                retry_policy=STEP_RETRY,
            )
            self._pending_nodes = list(found.pending)
            if found.complete:
                state.acked_epoch = epoch
                self._waiting_for = None
                return
            names = ", ".join(f"{n.node} (at epoch {n.epoch})" for n in found.pending)
            self._waiting_for = f"acknowledgement of routing epoch {epoch} from {names}"
            await workflow.sleep(self._request.settings.acks_poll_s)

    def _pairs(self) -> list[ShardPair]:
        plan = self._plan()
        sources, targets = moving_shards(plan.from_ring, plan.to_ring)
        return [ShardPair(source=s, target=t) for s in sources for t in targets]

    def _start_pass(self, kind: PassKind, pairs: list[ShardPair]) -> None:
        state = self._state
        state.pass_kind = kind
        state.pass_keys = 0
        state.cursors = [PairCursor(pair=pair) for pair in pairs]
        if kind in VERIFY_PASSES:
            state.mismatches = state.behind = 0
            state.mismatch_objects = []

    async def _pass(self, kind: PassKind) -> bool:
        """One run of `kind` over the first pair not done; True once every pair is done."""
        state = self._state
        if state.pass_kind is not kind:
            self._start_pass(kind, self._pairs())
        cursor = next((c for c in state.cursors if not c.done), None)
        if cursor is None:
            return True
        plan = self._plan()
        result: PairRunResult = await workflow.execute_activity(
            MIGRATE_PAIR_RUN,
            PairRunInput(
                migration_id=self._id,
                region=plan.region,
                from_ring=plan.from_ring,
                to_ring=plan.to_ring,
                kind=kind,
                pair=cursor.pair,
                after_key=cursor.after_key,
                throttle=self._throttle(),
                settle_s=self._request.settings.settle_s if kind is PassKind.REVERIFY else 0.0,
            ),
            result_type=PairRunResult,
            start_to_close_timeout=self._run_timeout(),
            heartbeat_timeout=self._run_heartbeat(),
            retry_policy=STEP_RETRY,
        )
        cursor.after_key, cursor.done = result.after_key, result.done
        cursor.keys += result.keys
        state.pass_keys += result.keys
        if kind is PassKind.COPY:
            state.keys_copied += result.keys
        elif kind is PassKind.CATCH_UP:
            # The catch-up walks every moving key again; count only those it had to write.
            state.keys_copied += result.written + result.merged
        elif kind in VERIFY_PASSES:
            state.keys_verified += result.keys
            state.mismatches += result.mismatches
            state.behind += result.behind
            state.mismatch_objects.extend(result.mismatch_objects)
        return all(c.done for c in state.cursors)

    async def _cleanup_pass(self) -> bool:
        """One cleanup run over the first old shard not done; True once all are."""
        state, plan = self._state, self._plan()
        if state.pass_kind is not PassKind.CLEANUP:
            sources, _ = moving_shards(plan.from_ring, plan.to_ring)
            # A cleanup walks one shard: its cursor's pair names that shard twice.
            self._start_pass(PassKind.CLEANUP, [ShardPair(source=s, target=s) for s in sources])
        cursor = next((c for c in state.cursors if not c.done), None)
        if cursor is None:
            return True
        result: CleanupRunResult = await workflow.execute_activity(
            MIGRATE_CLEANUP_RUN,
            CleanupRunInput(
                migration_id=self._id,
                region=plan.region,
                from_ring=plan.from_ring,
                to_ring=plan.to_ring,
                shard=cursor.pair.source,
                after_key=cursor.after_key,
                throttle=self._throttle(),
            ),
            result_type=CleanupRunResult,
            start_to_close_timeout=self._run_timeout(),
            heartbeat_timeout=self._run_heartbeat(),
            retry_policy=STEP_RETRY,
        )
        cursor.after_key, cursor.done = result.after_key, result.done
        cursor.keys += result.keys
        state.pass_keys += result.keys
        state.keys_cleaned += result.keys
        return all(c.done for c in state.cursors)

    async def _positions(self, activity_name: str) -> None:
        plan = self._plan()
        await workflow.execute_activity(
            activity_name,
            PositionsInput(region=plan.region, from_ring=plan.from_ring, to_ring=plan.to_ring),
            start_to_close_timeout=SHORT_STEP,
            retry_policy=STEP_RETRY,
        )

    def _throttle(self) -> Throttle:
        settings = self._request.settings
        return Throttle(
            rate_keys_per_s=self._state.rate_keys_per_s,
            chunk_keys=settings.chunk_keys,
            max_run_s=settings.max_run_s,
        )

    def _run_heartbeat(self) -> timedelta:
        return timedelta(seconds=self._request.settings.heartbeat_timeout_s)

    def _run_timeout(self) -> timedelta:
        # A run stops starting chunks after max_run_s; the rest bounds one slow chunk.
        return timedelta(seconds=self._request.settings.max_run_s + 300)
