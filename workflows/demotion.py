"""DemotionWorkflow: deletes one tenant's records past its retention, then moves its bodies down
the tiers in every region - hot -> warm, then warm -> cold - in batches, until no body past its
TTL is left in a tier it should leave (ARCHITECTURE §3 "Tiering").

Per region (in configuration order), per step (expire, warm, then cold), per dedup shard, it runs
batch after batch (`tier_expire_batch` / `tier_demote_batch`, one heartbeated activity each), from
the checkpoint the last one returned until one says nothing is left. Expiry is a step of the
demotion rather than a workflow of its own because it needs exactly what demotion has - the
tenant's schedule, the plan of regions and shards, one cut-off clock, pause and resume - and
because running it first means demotion never spends work moving bodies about to be deleted; a
tenant without retention (or under legal hold) pays one activity per shard that does nothing.
Runs started before the step existed (patch `tier-demote-expire`) go on without it.

`as_of_ms` is the clock the TTLs count to: the
input's, else the time of the first run; a continue-as-new keeps it, so one demotion has one
cut-off. Moves are throttled: after each batch the workflow waits for the batch's body bytes at
`bytes_per_s` (the `throttle` signal changes it and ends the wait). `pause` stops before the
next batch, `resume` goes on (and retries a batch whose body failed its check, after an operator
looked at it).

Task queue `geoledger-tiering`. Id `tier-demote-<tenant>`; the Temporal Schedule
`tier-demote-<tenant>` starts runs named `tier-demote-<tenant>-<timestamp>`. Payloads carry the
tenant, regions, shards, checkpoints and counts, never bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.names import TIER_DEMOTE_BATCH, TIER_EXPIRE_BATCH, TIER_PLAN
    from activities.tiering_models import (
        DemoteBatchInput,
        DemotionStep,
        ExpireBatchInput,
        ExpireBatchResult,
        TierPlan,
        TierPlanInput,
    )
    from ledger import error_types
    from ledger.demotion_batch import DemotionBatch

WORKFLOW_ID_PREFIX = "tier-demote"
STEPS = (DemotionStep.EXPIRE, DemotionStep.WARM, DemotionStep.COLD)
EXPIRE_PATCH = "tier-demote-expire"
"""The patch that added the expire step: runs recorded before it replay without expiry."""

# A database or object store that is down is retried with backoff, forever: demotion falls
# behind (tier_demotion_lag_seconds) and nothing moves until the next tier is back. A body that
# fails its check needs an operator: the workflow pauses with the error.
BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[
        error_types.TIERING_INPUT,
        error_types.BODY_INTEGRITY,
        error_types.BODY_DECODE,
    ],
)
PLAN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[error_types.TIERING_INPUT],
)
BATCH_TIMEOUT = timedelta(minutes=30)
"""A batch heartbeats every 2 s; this only bounds one that is alive but stuck."""


_Result = TypeVar("_Result", DemotionBatch, ExpireBatchResult)


def demotion_workflow_id(tenant: str) -> str:
    """The id of the tenant's demotion started by hand, and of its schedule."""
    return f"{WORKFLOW_ID_PREFIX}-{tenant}"


class DemotionPosition(BaseModel):
    """Where the walk stands: the region (index in the plan), the step, the shard and the
    checkpoint of the next batch there."""

    region_index: int = 0
    step: DemotionStep = DemotionStep.WARM
    shard: int = 0
    after: str = ""


class DemotionTotals(BaseModel):
    """What the demotion did so far, over every batch."""

    batches: int = 0
    to_warm: int = 0
    to_cold: int = 0
    skipped: int = 0
    stored_raw: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    packs: int = 0
    # Retention: winners and copies deleted below the horizon, pack objects deleted.
    expired: int = 0
    expired_copies: int = 0
    expired_packs: int = 0


class DemotionInput(BaseModel):
    """Input of DemotionWorkflow: the tenant, the clock TTLs count to (None: the first run's
    time) and the throttle (tier_demotion.bytes_per_s; 0: none); the rest is what a
    continue-as-new carries over."""

    tenant: str
    as_of_ms: int | None = None
    bytes_per_s: int = Field(ge=0)
    plan: TierPlan | None = None
    position: DemotionPosition | None = None
    totals: DemotionTotals | None = None
    paused: bool = False


class DemotionStatus(BaseModel):
    """What the `status` query (and the result) says: the tenant's cut-off, throttle, whether it
    is paused and why, where it stands, what it did, and whether it is done."""

    tenant: str
    as_of_ms: int | None
    bytes_per_s: int
    paused: bool
    last_error: str | None
    position: DemotionPosition
    totals: DemotionTotals
    skipped_regions: dict[str, str]
    done: bool


@workflow.defn
class DemotionWorkflow:
    """One demotion of one tenant's bodies in every region."""

    @workflow.init
    def __init__(self, request: DemotionInput) -> None:
        # From the input here, not in run: a signal that comes with the first workflow task is
        # handled before run starts.
        self._tenant = request.tenant
        self._as_of_ms = request.as_of_ms
        self._bytes_per_s = request.bytes_per_s
        self._paused = request.paused
        self._position = request.position or DemotionPosition()
        self._totals = request.totals or DemotionTotals()
        self._plan = request.plan
        self._last_error: str | None = None
        self._done = False
        self._throttle_changed = False
        self._expires = False

    @workflow.run
    async def run(self, request: DemotionInput) -> DemotionStatus:
        """Walk every region's shards, warm step then cold step, batch by batch; continue as
        new when the history grows long; return the totals once nothing is left."""
        self._expires = workflow.patched(EXPIRE_PATCH)
        if self._expires and request.position is None:
            self._position.step = DemotionStep.EXPIRE
        if self._as_of_ms is None:
            self._as_of_ms = int(workflow.now().timestamp() * 1000)
        if self._plan is None:
            self._plan = await workflow.execute_activity(
                TIER_PLAN,
                TierPlanInput(tenant=self._tenant),
                result_type=TierPlan,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=PLAN_RETRY,
            )
        position = self._position
        while position.region_index < len(self._plan.regions):
            region = self._plan.regions[position.region_index]
            if region.resharding is not None or position.shard >= region.shards:
                self._next_section(region.shards)
                continue
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried(request))
            await workflow.wait_condition(lambda: not self._paused)
            if position.step is DemotionStep.EXPIRE:
                expiry = await self._expire(region.region)
                if expiry is None:
                    continue  # paused on a failure, as for a demotion batch
                self._count_expiry(expiry)
                if expiry.next_after is None:
                    self._next_section(region.shards)
                else:
                    position.after = expiry.next_after
                continue
            batch = await self._batch(region.region)
            if batch is None:
                continue  # paused on a failure: the same batch again after `resume`
            self._count(batch)
            if batch.next_after is None:
                self._next_section(region.shards)
            else:
                position.after = batch.next_after
            await self._throttle(batch.bytes_in)
        self._done = True
        return self.status()

    async def _throttle(self, bytes_moved: int) -> None:
        """Wait as long as moving `bytes_moved` takes at the throttle; a `throttle` signal ends
        the wait, so the new rate paces the very next batch."""
        self._throttle_changed = False
        if self._bytes_per_s > 0 and bytes_moved > 0:
            delay = timedelta(seconds=bytes_moved / self._bytes_per_s)
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(lambda: self._throttle_changed, timeout=delay)

    async def _batch(self, region: str) -> DemotionBatch | None:
        """The next demotion batch's result, or None when it failed in a way retrying cannot
        fix (the workflow is then paused with the error)."""
        position = self._position
        assert self._as_of_ms is not None
        request = DemoteBatchInput(
            tenant=self._tenant,
            region=region,
            shard=position.shard,
            step=position.step,
            after=position.after,
            as_of_ms=self._as_of_ms,
        )
        return await self._shard_activity(region, TIER_DEMOTE_BATCH, request, DemotionBatch)

    async def _expire(self, region: str) -> ExpireBatchResult | None:
        """The next expiry batch's result, or None as for `_batch`."""
        position = self._position
        assert self._as_of_ms is not None
        request = ExpireBatchInput(
            tenant=self._tenant,
            region=region,
            shard=position.shard,
            after=position.after,
            as_of_ms=self._as_of_ms,
        )
        return await self._shard_activity(region, TIER_EXPIRE_BATCH, request, ExpireBatchResult)

    async def _shard_activity(
        self, region: str, activity: str, request: BaseModel, result_type: type[_Result]
    ) -> _Result | None:
        """`activity`'s result for one batch on the current shard; None when it failed in a way
        retrying cannot fix: the workflow is then paused with the error."""
        try:
            result: _Result = await workflow.execute_activity(
                activity,
                request,
                result_type=result_type,
                start_to_close_timeout=BATCH_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=BATCH_RETRY,
            )
        except ActivityError as exc:
            position = self._position
            self._last_error = f"{region} shard {position.shard} {position.step}: {exc.cause}"
            self._paused = True
            return None
        return result

    def _next_section(self, shards: int) -> None:
        """On to the next shard; after the last, the next step; after cold, the next region."""
        position = self._position
        position.after = ""
        if position.shard + 1 < shards:
            position.shard += 1
            return
        position.shard = 0
        if position.step is DemotionStep.EXPIRE:
            position.step = DemotionStep.WARM
            return
        if position.step is DemotionStep.WARM:
            position.step = DemotionStep.COLD
            return
        position.step = DemotionStep.EXPIRE if self._expires else DemotionStep.WARM
        position.region_index += 1

    def _count_expiry(self, expiry: ExpireBatchResult) -> None:
        # `batches` counts demotion batches, as it always did; expiry has its own counts.
        totals = self._totals
        totals.expired += expiry.winners
        totals.expired_copies += expiry.copies
        totals.expired_packs += expiry.packs

    def _count(self, batch: DemotionBatch) -> None:
        totals = self._totals
        totals.batches += 1
        if self._position.step is DemotionStep.WARM:
            totals.to_warm += batch.moved
        else:
            totals.to_cold += batch.moved
        totals.skipped += batch.skipped
        totals.stored_raw += batch.stored_raw
        totals.bytes_in += batch.bytes_in
        totals.bytes_out += batch.bytes_out
        totals.packs += batch.pack_id is not None

    def _carried(self, request: DemotionInput) -> DemotionInput:
        return request.model_copy(
            update={
                "as_of_ms": self._as_of_ms,
                "bytes_per_s": self._bytes_per_s,
                "plan": self._plan,
                "position": self._position,
                "totals": self._totals,
                "paused": self._paused,
            }
        )

    @workflow.signal
    def pause(self) -> None:
        """Stop before the next batch (the one running finishes)."""
        self._paused = True

    @workflow.signal
    def resume(self) -> None:
        """Go on, clearing the error that paused the demotion, if any."""
        self._paused = False
        self._last_error = None

    @workflow.signal
    def throttle(self, bytes_per_s: int) -> None:
        """Move at most `bytes_per_s` body bytes per second from the next batch on; 0: no
        throttle."""
        self._bytes_per_s = max(0, bytes_per_s)
        self._throttle_changed = True

    @workflow.query
    def status(self) -> DemotionStatus:
        """Where the demotion stands and what it did so far."""
        plan = self._plan.regions if self._plan is not None else []
        return DemotionStatus(
            tenant=self._tenant,
            as_of_ms=self._as_of_ms,
            bytes_per_s=self._bytes_per_s,
            paused=self._paused,
            last_error=self._last_error,
            position=self._position,
            totals=self._totals,
            skipped_regions={r.region: r.resharding for r in plan if r.resharding is not None},
            done=self._done,
        )
