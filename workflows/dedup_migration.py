"""DedupMigrationWorkflow: re-shards one region's dedup ring online, n -> m shards, from a stored
plan (`dedup-migrate plan`), in the phases of ARCHITECTURE §3 "Re-sharding":

- copy: the keys whose shard changes, pair of shards by pair, in throttled chunks through COPY;
  writes still go to the old ring only (routing epoch `copy`).
- verify: every pair compared chunk by chunk (counts and fingerprints of key rows, copies and
  bodies); keys written after their chunk was copied are `behind` (the catch-up brings them),
  anything else is a mismatch, listed whole in the region's store; it must be zero to go on.
- dual_write: epoch `dual_write` makes every writer write both rings; once every live writer has
  acknowledged it, the catch-up copy merges what was written since the copy began, a growing
  ring's new shards claim their stream positions, and the re-verify must find nothing behind and
  no mismatch.
- cutover: after `approve_cutover` (or with auto-approve), reads switch to the new ring (epoch
  `cutover_reads`), then writes (epoch `cutover`: the new ring answers, the old one is still
  written, so it stays complete); each epoch acknowledged by every live writer.
- cleanup: after `approve_cleanup` or the grace period, writes go to the new ring only (epoch
  `cleanup`), moved keys are deleted from the old shards where the new ring covers them, and the
  region ends on a stable epoch of m shards.

`rollback` (any phase before cleanup) appends a stable epoch of the old ring, waits for every
writer, removes the copied keys and the new shards' positions, and ends the plan rolled back.

Each step is idempotent (an epoch by the one it follows, a chunk by the key it resumes after), so
a killed worker only repeats the chunk it was in. Workflow id `dedup-migrate-<plan id>`, task
queue `geoledger-migrate`, search attributes GeoRegion and GeoPhase (kept current), the memo
holds the mismatch summary. Continues as new when the history grows long.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.migrate_models import (
        FINAL_STAGES,
        BeginInput,
        FinishInput,
        MigrationInput,
        MigrationProgress,
        MigrationState,
        PassKind,
        PlanSummary,
        RouteMark,
        Stage,
    )
    from activities.names import (
        MIGRATE_BEGIN,
        MIGRATE_CLEAR_POSITIONS,
        MIGRATE_FINISH,
        MIGRATE_SEAL_POSITIONS,
    )
    from ledger import search_attributes
    from ledger.route_acks import NodeAck
    from workflows.migration_control import MigrationControl
    from workflows.migration_progress import progress_of
    from workflows.migration_steps import SHORT_STEP, STEP_RETRY, MigrationSteps

GEO_PHASE = SearchAttributeKey.for_keyword(search_attributes.GEO_PHASE)


@workflow.defn
class DedupMigrationWorkflow(MigrationSteps, MigrationControl):
    """One re-sharding of one region's dedup ring."""

    @workflow.init
    def __init__(self, request: MigrationInput) -> None:
        self._id = request.migration_id
        self._request = request
        self._state = request.state or MigrationState(
            rate_keys_per_s=request.rate_keys_per_s or 1.0
        )
        self._pending_nodes: list[NodeAck] = []
        self._waiting_for: str | None = None

    @workflow.run
    async def run(self, request: MigrationInput) -> MigrationProgress:
        """Step through the phases until done or rolled back, continuing as new when long."""
        state = self._state
        if state.plan is None:
            await self._begin()
        while state.stage not in FINAL_STAGES:
            if state.rollback_requested and state.stage is not Stage.ROLLING_BACK:
                self._enter(Stage.ROLLING_BACK)
            if state.paused or state.blocked is not None:
                self._waiting_for = state.blocked or state.last_error or "resume (paused)"
                await workflow.wait_condition(self._may_go_on)
                continue
            self._waiting_for = None
            try:
                await self._step()
            except ActivityError as exc:
                # Only refusals get here (everything else retries): stop for an operator.
                state.last_error = str(exc.cause or exc)
                state.paused = True
                workflow.logger.error("%s stopped: %s", self._id, state.last_error)
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(request.model_copy(update={"state": state}))
        self._waiting_for = None
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress()

    @workflow.query
    def progress(self) -> MigrationProgress:
        """Phase, pass, pair, keys copied and verified, rate, ETA and what it waits for."""
        return progress_of(self._id, self._state, self._waiting_for, self._pending_nodes)

    def _may_go_on(self) -> bool:
        state = self._state
        rolling_back = state.rollback_requested and state.stage is not Stage.ROLLING_BACK
        return rolling_back or not (state.paused or state.blocked is not None)

    # Phases

    async def _begin(self) -> None:
        state = self._state
        state.started_at = workflow.now()
        plan: PlanSummary = await workflow.execute_activity(
            MIGRATE_BEGIN,
            BeginInput(
                migration_id=self._id,
                region=self._request.region,
                workflow_id=workflow.info().workflow_id,
            ),
            result_type=PlanSummary,
            start_to_close_timeout=SHORT_STEP,
            retry_policy=STEP_RETRY,
        )
        state.plan = plan
        if self._request.rate_keys_per_s is None:
            state.rate_keys_per_s = plan.rate_keys_per_s
        state.route = RouteMark(epoch=plan.routing_epoch, phase="stable", ring_size=plan.from_ring)
        state.acked_epoch = plan.routing_epoch
        self._enter(Stage.COPY)

    async def _step(self) -> None:
        stage = self._state.stage
        if stage is Stage.COPY:
            await self._route("copy")
            # Writes do not change at this epoch, but tiering batches begun before it must end
            # before rows are copied: a writer acknowledges only once they have.
            await self._acked()
            if await self._pass(PassKind.COPY):
                self._enter(Stage.VERIFY)
        elif stage is Stage.VERIFY:
            await self._route("verify")
            if await self._pass(PassKind.VERIFY) and self._verified(allow_behind=True):
                self._enter(Stage.DUAL_WRITE)
        elif stage is Stage.DUAL_WRITE:
            await self._dual_write()
        elif stage is Stage.CUTOVER:
            await self._cutover()
        elif stage is Stage.CLEANUP:
            await self._cleanup()
        elif stage is Stage.ROLLING_BACK:
            await self._roll_back()

    async def _dual_write(self) -> None:
        await self._route("dual_write")
        await self._acked()
        state = self._state
        if state.step in ("", "catch_up"):
            state.step = "catch_up"
            if await self._pass(PassKind.CATCH_UP):
                await self._positions(MIGRATE_SEAL_POSITIONS)
                state.step = "reverify"
        elif await self._pass(PassKind.REVERIFY):
            if self._verified(allow_behind=False):
                self._enter(Stage.CUTOVER)
            else:
                state.step = "catch_up"  # resume: catch up again, then re-verify

    async def _cutover(self) -> None:
        state = self._state
        if not (state.cutover_approved or self._request.auto_approve):
            self._waiting_for = (
                "cutover approval: `dedup-migrate approve "
                f"{self._id}`, or the approve_cutover signal in the web UI"
            )
            await workflow.wait_condition(
                lambda: state.cutover_approved or state.rollback_requested or state.paused
            )
            return
        await self._route("cutover_reads")
        await self._acked()
        await self._route("cutover")
        await self._acked()
        self._enter(Stage.CLEANUP)
        state.cleanup_due_at = workflow.now() + timedelta(
            seconds=self._request.settings.cleanup_grace_s
        )

    async def _cleanup(self) -> None:
        state = self._state
        if not self._cleanup_began() and not self._cleanup_due():
            assert state.cleanup_due_at is not None
            self._waiting_for = (
                f"cleanup approval (`dedup-migrate approve {self._id} --cleanup`, or "
                f"the approve_cleanup signal), or the grace period until "
                f"{state.cleanup_due_at.isoformat(timespec='seconds')}"
            )
            left = (state.cleanup_due_at - workflow.now()).total_seconds()
            with contextlib.suppress(TimeoutError):  # the grace period is over
                await workflow.wait_condition(
                    lambda: state.cleanup_approved or state.rollback_requested or state.paused,
                    timeout=timedelta(seconds=max(left, 0.001)),
                )
            return
        plan = self._plan()
        await self._route("cleanup")
        await self._acked()
        if await self._cleanup_pass():
            await self._route("stable", ring_size=plan.to_ring)
            await self._finish("done", Stage.DONE)

    def _cleanup_due(self) -> bool:
        state = self._state
        if state.cleanup_approved or self._request.auto_approve:
            return True
        return state.cleanup_due_at is not None and workflow.now() >= state.cleanup_due_at

    async def _roll_back(self) -> None:
        plan = self._plan()
        await self._route("stable", ring_size=plan.from_ring)
        await self._acked()
        if await self._pass(PassKind.UNDO):
            await self._positions(MIGRATE_CLEAR_POSITIONS)
            await self._finish("rolled_back", Stage.ROLLED_BACK)

    async def _finish(self, plan_state: str, stage: Stage) -> None:
        await workflow.execute_activity(
            MIGRATE_FINISH,
            FinishInput(migration_id=self._id, region=self._plan().region, state=plan_state),
            start_to_close_timeout=SHORT_STEP,
            retry_policy=STEP_RETRY,
        )
        self._enter(stage)

    def _enter(self, stage: Stage) -> None:
        state = self._state
        state.stage = stage
        state.step = ""
        state.pass_kind = None
        workflow.upsert_search_attributes([GEO_PHASE.value_set(stage.value)])

    def _verified(self, *, allow_behind: bool) -> bool:
        """Judge a finished verify pass: go on, or stop until an operator resumes or rolls
        back. The memo keeps the summary for the web UI."""
        state = self._state
        workflow.upsert_memo(
            {
                "mismatches": state.mismatches,
                "behind": state.behind,
                "mismatch_objects": state.mismatch_objects[:20],
            }
        )
        problems = []
        if state.mismatches:
            problems.append(f"{state.mismatches} mismatching keys")
        if state.behind and not allow_behind:
            problems.append(f"{state.behind} keys behind")
        if not problems:
            return True
        lists = f" (lists: {', '.join(state.mismatch_objects[:3])})" if state.mismatches else ""
        state.blocked = (
            f"{state.pass_kind} found {' and '.join(problems)}{lists}: repair and "
            f"`dedup-migrate resume {self._id}` to verify again, or `dedup-migrate rollback`"
        )
        return False
