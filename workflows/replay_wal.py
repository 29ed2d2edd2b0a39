"""ReplayWalWorkflow: applies one source stream's shipped segments to a region's dedup store,
strictly in manifest order, each verified (I5, I1) and applied together with the replay
watermark (exactly-once effect).

Workflow id `crr-replay-<source-region>-<node>-to-<region>`, task queue `geoledger-crr`. Each round
is one run (`crr_replay_run`) that follows the stream: it lists the manifests after the watermark
every poll interval and verifies and applies them in order, checking the next segment while the
current one is applied, heartbeating its position after each, until the stream has been quiet
for a while or the run's bounds are reached (`follow`). A pause cancels the run; the workflow
reports itself paused only once the run has stopped. (Before the `replay-runs-follow` patch each
round was a listing, then a run applying what it listed.) A gap (a missing manifest while later
ones exist) blocks: each listing exports it as a gauge and the `CrrManifestGap` alert fires after
its timeout. Nothing is ever skipped.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.crr_models import (
        ApplySegmentInput,
        ApplySegmentResult,
        Follow,
        ListManifestsInput,
        ListManifestsResult,
        LongPoll,
        ReplayPosition,
        ReplayPositionInput,
        ReplayRunInput,
        ReplayRunResult,
        StreamRef,
    )
    from activities.names import APPLY_SEGMENT, LIST_MANIFESTS, REPLAY_POSITION, REPLAY_RUN
    from ledger import error_types
    from ledger.manifest_ref import ManifestRef
    from ledger.stream_id import StreamId
    from workflows.pausable import RUN_TIMEOUT, PausableWorkflow, unless_paused

REPLAY_IN_RUNS = "replay-listed-runs"
"""Patch id: the manifests a listing returns are applied by one activity (pipelined), instead of
one activity per segment. Runs recorded before it replay the old steps; deprecate the patch once
none of them is left."""

REPLAY_RUNS_FOLLOW = "replay-runs-follow"
"""Patch id: a round is one run activity that lists the store for itself and follows the stream
(no listing activity): a manifest committed while the run is going is applied without a Temporal
round trip."""

APPLY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[error_types.VERIFICATION],
)


class ReplayState(BaseModel):
    """Where a replay stands and what it has applied so far; carried across continue-as-new."""

    applied_seq: int = 0
    # None until one manifest has been applied by this workflow: the chain check of the first
    # manifest after a watermark needs its predecessor's hash, which only the store knows.
    last_manifest_sha256: str | None = None
    segments_applied: int = 0
    records_applied: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    blocked_on_gap_at_seq: int | None = None
    last_error: str | None = None


class ReplayWalInput(BaseModel):
    """Input of ReplayWalWorkflow: the source stream, the region it is applied to, its CRR
    settings, and the state and pause a continue-as-new carries over."""

    source_region: str
    source_node: str
    into_region: str
    state: ReplayState | None = None
    paused: bool = False
    # How a listing waits for new work (see CrrConfig).
    poll: LongPoll
    manifests_per_round: int = 32
    # How long one run follows the stream (crr.follow_*); None: a listing, then a run applying
    # what it listed (workflows started before the setting existed).
    follow: Follow | None = None


class ReplayStatus(BaseModel):
    """What the `status` query returns: the source stream, the target region, whether the replay
    is paused, and its state."""

    source: str
    into_region: str
    paused: bool
    state: ReplayState


def replay_workflow_id(source_region: str, source_node: str, into_region: str) -> str:
    """The id of the workflow replaying the stream `<source_region>/<source_node>` into
    `into_region`."""
    return f"crr-replay-{source_region}-{source_node}-to-{into_region}"


@workflow.defn
class ReplayWalWorkflow(PausableWorkflow):
    """The replay of one source stream into one region, for as long as the stream lives."""

    _state: ReplayState
    # A run is applying (or stopping after a pause): the workflow is not paused until it stops.
    _run_in_flight: bool = False

    @workflow.init
    def __init__(self, request: ReplayWalInput) -> None:
        # From the input here, not in run: a signal that comes with the first workflow task is
        # handled before run starts, and run must not undo a pause sent right after the start.
        self._paused = request.paused
        self._state = request.state or ReplayState()
        self._source = str(StreamId(request.source_region, request.source_node))
        self._into = request.into_region

    @workflow.run
    async def run(self, request: ReplayWalInput) -> None:
        """Apply the stream's manifests round after round, from the carried state or else the
        region's watermark; a failure retrying cannot fix pauses it. Continues as new when the
        history grows long: never completes by itself."""
        source = StreamRef(region=request.source_region, node=request.source_node)
        self._state = request.state or await self._position(source, request.into_region)
        in_runs = workflow.patched(REPLAY_IN_RUNS)
        follow = request.follow if request.follow and workflow.patched(REPLAY_RUNS_FOLLOW) else None
        while not workflow.info().is_continue_as_new_suggested():
            await workflow.wait_condition(lambda: not self._paused)
            if follow is not None:
                await self._run(source, request, [], follow)
            elif in_runs:
                await self._replay_run(source, request)
            else:
                await self._list_then_apply(source, request)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            request.model_copy(update={"state": self._state, "paused": self._paused})
        )

    async def _replay_run(self, source: StreamRef, request: ReplayWalInput) -> None:
        """The steps before REPLAY_RUNS_FOLLOW: a listing, then a run applying what it listed."""
        # The wait for manifests is its own activity, abandoned at once on a pause; the run that
        # applies them gets only what was listed, so nothing that comes later is applied after a
        # pause.
        listed = await self._list(source, request)
        if listed is None or not listed.ready or self._paused:
            return
        await self._run(source, request, listed.ready, None)

    async def _run(
        self,
        source: StreamRef,
        request: ReplayWalInput,
        manifests: list[ManifestRef],
        follow: Follow | None,
    ) -> None:
        """One run activity: `manifests`, then (with `follow`) what is committed next."""
        state = self._state
        handle = workflow.start_activity(
            REPLAY_RUN,
            ReplayRunInput(
                source=source,
                into_region=request.into_region,
                after_seq=state.applied_seq,
                expected_prev_sha256=state.last_manifest_sha256,
                manifests=manifests,
                follow=follow,
            ),
            result_type=ReplayRunResult,
            start_to_close_timeout=RUN_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=APPLY_RETRY,
            # A pause waits until the run has stopped, so the state folded in next is final.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        self._run_in_flight = True
        try:
            run = await self._run_unless_paused(handle, ReplayRunResult, self._what)
        finally:
            self._run_in_flight = False
        if run is None:
            # Stopped without saying how far it got: every segment applied before that point
            # carried the watermark, so the store says where the stream stands (the chain check
            # of the next manifest then reads its predecessor from the store).
            position = await self._position(source, request.into_region)
            state.applied_seq, state.last_manifest_sha256 = position.applied_seq, None
            return
        state.applied_seq = run.applied_seq
        state.last_manifest_sha256 = run.last_manifest_sha256
        state.segments_applied += run.segments
        state.records_applied += run.records
        state.accepted += run.accepted
        state.duplicates += run.duplicates
        state.conflicts += run.conflicts
        if follow is not None:
            state.blocked_on_gap_at_seq = run.applied_seq + 1 if run.gap_first_seq else None
        if run.segments and not self._paused:
            state.last_error = None

    async def _list_then_apply(self, source: StreamRef, request: ReplayWalInput) -> None:
        """The steps before REPLAY_IN_RUNS: a listing, then one activity per segment."""
        listed = await self._list(source, request)
        if listed is None or not listed.ready:
            return  # paused, or the listing already waited for work: look again
        try:
            for ref in listed.ready:
                if self._paused:
                    break
                await self._apply(source, request.into_region, ref)
        except ActivityError as exc:
            self._pause_on_failure(exc, self._what)

    async def _list(self, source: StreamRef, request: ReplayWalInput) -> ListManifestsResult | None:
        """The manifests ready after the watermark (waiting for some), or None on a pause."""
        listing = workflow.start_activity(
            LIST_MANIFESTS,
            ListManifestsInput(
                source=source,
                into_region=request.into_region,
                after_seq=self._state.applied_seq,
                limit=request.manifests_per_round,
                poll=request.poll,
            ),
            result_type=ListManifestsResult,
            start_to_close_timeout=timedelta(seconds=request.poll.wait_s + 30),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=APPLY_RETRY,
        )
        listed = await unless_paused(listing, lambda: self._paused)
        if listed is not None:
            self._state.blocked_on_gap_at_seq = (
                self._state.applied_seq + 1 if listed.gap_first_seq and not listed.ready else None
            )
        return listed

    async def _apply(self, source: StreamRef, into_region: str, ref: ManifestRef) -> None:
        result = await workflow.execute_activity(
            APPLY_SEGMENT,
            ApplySegmentInput(
                source=source,
                into_region=into_region,
                manifest=ref,
                expected_prev_sha256=self._state.last_manifest_sha256,
            ),
            result_type=ApplySegmentResult,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=APPLY_RETRY,
        )
        state = self._state
        state.applied_seq = result.last_seq
        state.last_manifest_sha256 = result.manifest_sha256
        state.segments_applied += 1
        state.records_applied += result.records
        state.accepted += result.accepted
        state.duplicates += result.duplicates
        state.conflicts += result.conflicts
        state.last_error = None

    async def _position(self, source: StreamRef, into_region: str) -> ReplayState:
        position = await workflow.execute_activity(
            REPLAY_POSITION,
            ReplayPositionInput(source=source, into_region=into_region),
            result_type=ReplayPosition,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=APPLY_RETRY,
        )
        return ReplayState(applied_seq=position.applied_seq)

    @property
    def _what(self) -> str:
        return f"{self._source} -> {self._into}: replay"

    @workflow.query
    def status(self) -> ReplayStatus:
        """The replay's position, counters and last error, and whether it is paused (only once no
        run is still applying)."""
        # Paused once nothing applies any more: a run told to stop may still be applying.
        paused = self._paused and not self._run_in_flight
        return ReplayStatus(
            source=self._source, into_region=self._into, paused=paused, state=self._state
        )
