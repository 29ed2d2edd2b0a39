"""ShipWalWorkflow: tails one stream's sealed WAL segments and ships each to every ship target,
committing a signed, hash-chained manifest per segment in sequence order.

Workflow id `crr-ship-<region>-<node>`, task queue `geoledger-crr`; the activities that read the
WAL run on the node's own queue `geoledger-crr-<region>-<node>`. Each round is one run
(`crr_ship_run`) that follows the stream: woken by each seal, it uploads up to
`max_concurrent_uploads` segments at a time and writes their manifests - the commit markers -
strictly in order, heartbeating its position after each, until the stream has been quiet for a
while or the run's bounds are reached (`follow`). A pause cancels the run, which stops at once and
says how far it got; the workflow reports itself paused only once the run has stopped. (Before
the `ship-runs-follow` patch each round was a listing, then a run shipping what it listed.)
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.crr_models import (
        CommitManifestInput,
        Follow,
        ListSegmentsInput,
        ListSegmentsResult,
        LongPoll,
        ReadShipWatermarkInput,
        RepairStoreInput,
        RepairStoreResult,
        SegmentRef,
        ShipRunInput,
        ShipRunResult,
        ShipSegmentInput,
        ShipWatermark,
        StoreAuditCursor,
        StreamRef,
    )
    from activities.names import (
        COMMIT_MANIFEST,
        LIST_SEALED_SEGMENTS,
        READ_SHIP_WATERMARK,
        REPAIR_STORE,
        SHIP_RUN,
        SHIP_SEGMENT,
    )
    from ledger import error_types
    from ledger.shipped import ShippedSegment
    from ledger.stream_id import StreamId
    from workflows.pausable import RUN_TIMEOUT, PausableWorkflow, unless_paused
    from workflows.queues import node_queue

SHIP_IN_RUNS = "ship-listed-runs"
"""Patch id: the segments a listing returns are uploaded and committed by one activity, instead
of two activities per segment. Runs recorded before it replay the old steps; deprecate the patch
once none of them is left."""

SHIP_AUDITS_STORE = "ship-audits-store"
"""Patch id: each run (start, continue-as-new) audits one window of the stream's history in every
ship target and repairs what a target lacks from a peer, before it ships anything."""

SHIP_AUDITS_PERIODICALLY = "ship-audits-store-periodically"
"""Patch id: a run also audits a window whenever `store_audit_interval_s` has passed since the
last one (between ship rounds)."""

SHIP_RUNS_FOLLOW = "ship-runs-follow"
"""Patch id: a round is one run activity that lists for itself and follows the stream (no listing
activity): a segment sealed while the run is going ships without a Temporal round trip."""


# The audit is a check beside shipping: a store that cannot be listed now is audited next run.
AUDIT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
# Transient failures (a store down) retry forever with backoff: lag grows and alerts, nothing is
# lost. Conflicts and missing segments need an operator and are not retried.
UPLOAD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[
        error_types.SHIP_CONFLICT,
        error_types.SEGMENT_NOT_FOUND,
        error_types.VERIFICATION,
    ],
)


class ShipState(BaseModel):
    """Where shipping stands, what it has shipped so far and where the store audit is; carried
    across continue-as-new."""

    last_seq: int = 0
    last_manifest_sha256: str = ""
    segments_shipped: int = 0
    raw_bytes_shipped: int = 0
    compressed_bytes_shipped: int = 0
    last_error: str | None = None
    store_audit: StoreAuditCursor = StoreAuditCursor()
    # What the last store audit could not repair (the first few objects), empty when complete.
    store_problems: list[str] = []


class ShipWalInput(BaseModel):
    """Input of ShipWalWorkflow: the node's stream, its CRR settings, and the state and pause a
    continue-as-new carries over."""

    region: str
    node: str
    state: ShipState | None = None
    paused: bool = False
    # How a listing waits for new work (see CrrConfig).
    poll: LongPoll
    max_concurrent_uploads: int  # crr.max_concurrent_uploads
    segments_per_round: int = 16
    # A window of the store audit at least this often (crr.store_audit_interval_s); None: only
    # when a run starts (workflows started before the setting existed).
    store_audit_interval_s: float | None = None
    # How long one run follows the stream (crr.follow_*); None: a listing, then a run shipping
    # what it listed (workflows started before the setting existed).
    follow: Follow | None = None


class ShipStatus(BaseModel):
    """What the `status` query returns: the stream, whether shipping is paused, and its state."""

    stream: str
    paused: bool
    state: ShipState


def ship_workflow_id(region: str, node: str) -> str:
    """The id of the workflow shipping the stream `<region>/<node>`."""
    return f"crr-ship-{region}-{node}"


@workflow.defn
class ShipWalWorkflow(PausableWorkflow):
    """The shipping of one node's stream to its ship targets, for as long as the stream lives."""

    _state: ShipState
    _unsettled: bool
    _last_audit: datetime | None = None
    # A run is shipping (or stopping after a pause): the workflow is not paused until it stops.
    _run_in_flight: bool = False

    @workflow.init
    def __init__(self, request: ShipWalInput) -> None:
        # From the input here, not in run: a signal that comes with the first workflow task is
        # handled before run starts, and run must not undo a pause sent right after the start.
        self._paused = request.paused
        self._state = request.state or ShipState()
        self._stream = str(StreamId(request.region, request.node))

    @workflow.run
    async def run(self, request: ShipWalInput) -> None:
        """Ship the stream round after round, from the carried state or else the targets'
        watermark, auditing a window of the stores when it starts (and every audit interval); a
        failure retrying cannot fix pauses it. Continues as new when the history grows long:
        never completes by itself."""
        source = StreamRef(region=request.region, node=request.node)
        self._state = request.state or await self._read_watermark(source)
        # Not while paused: a pause stops every write to the stores.
        if workflow.patched(SHIP_AUDITS_STORE) and not self._paused:
            await self._audit_store(source)
        in_runs = workflow.patched(SHIP_IN_RUNS)
        follow = request.follow if request.follow and workflow.patched(SHIP_RUNS_FOLLOW) else None
        # A new run of this workflow cannot know whether the last one stopped mid-commit.
        self._unsettled = True
        while not workflow.info().is_continue_as_new_suggested():
            await workflow.wait_condition(lambda: not self._paused)
            if self._audit_due(request):
                await self._audit_store(source)
            if follow is not None:
                if not self._paused:  # a pause may have come during the audit
                    await self._run(source, request, [], follow)
            elif in_runs:
                await self._ship_run(source, request)
            else:
                await self._list_then_ship(source, request)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            request.model_copy(update={"state": self._state, "paused": self._paused})
        )

    async def _ship_run(self, source: StreamRef, request: ShipWalInput) -> None:
        """The steps before SHIP_RUNS_FOLLOW: a listing, then a run shipping what it listed."""
        # The wait for sealed segments is its own activity, abandoned at once on a pause; the run
        # that ships them gets only what was listed, so nothing sealed later ships after a pause.
        listed = await self._list(source, request)
        if listed is None or not listed.segments or self._paused:
            return
        await self._run(source, request, listed.segments, None)

    async def _run(
        self,
        source: StreamRef,
        request: ShipWalInput,
        segments: list[SegmentRef],
        follow: Follow | None,
    ) -> None:
        """One run activity: `segments`, then (with `follow`) what is sealed next."""
        state = self._state
        handle = workflow.start_activity(
            SHIP_RUN,
            ShipRunInput(
                source=source,
                after_seq=state.last_seq,
                prev_manifest_sha256=state.last_manifest_sha256,
                segments=segments,
                max_concurrent_uploads=request.max_concurrent_uploads,
                complete_commits_first=self._unsettled,
                follow=follow,
            ),
            result_type=ShipRunResult,
            task_queue=node_queue(source.region, source.node),
            start_to_close_timeout=RUN_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=UPLOAD_RETRY,
            # A pause waits until the run has stopped, so the state folded in next is final.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        self._run_in_flight = True
        try:
            run = await self._run_unless_paused(handle, ShipRunResult, self._what)
        finally:
            self._run_in_flight = False
        # Anything but a run that ended by itself may have stopped mid-commit.
        self._unsettled = run is None or self._paused
        if run is None:
            return
        state.last_seq = run.last_seq
        state.last_manifest_sha256 = run.manifest_sha256
        state.segments_shipped += run.segments
        state.raw_bytes_shipped += run.raw_bytes
        state.compressed_bytes_shipped += run.compressed_bytes
        if run.segments and not self._paused:
            state.last_error = None

    async def _list_then_ship(self, source: StreamRef, request: ShipWalInput) -> None:
        """The steps before SHIP_IN_RUNS: a listing, then an upload and a commit per segment."""
        listed = await self._list(source, request)
        if listed is None or not listed.segments:
            return  # paused, or the listing already waited for work: look again
        try:
            await self._ship_round(source, listed, request.max_concurrent_uploads)
        except ActivityError as exc:
            # Only non-retryable failures get here.
            self._pause_on_failure(exc, self._what)

    async def _list(self, source: StreamRef, request: ShipWalInput) -> ListSegmentsResult | None:
        """The sealed segments after the watermark (waiting for some), or None on a pause."""
        listing = workflow.start_activity(
            LIST_SEALED_SEGMENTS,
            ListSegmentsInput(
                source=source,
                after_seq=self._state.last_seq,
                limit=request.segments_per_round,
                poll=request.poll,
            ),
            result_type=ListSegmentsResult,
            task_queue=node_queue(source.region, source.node),
            start_to_close_timeout=timedelta(seconds=request.poll.wait_s + 30),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=UPLOAD_RETRY,
        )
        return await unless_paused(listing, lambda: self._paused)

    async def _ship_round(
        self, source: StreamRef, listed: ListSegmentsResult, concurrency: int
    ) -> None:
        expected = self._state.last_seq + 1
        if listed.segments[0].first_seq != expected:
            raise ApplicationError(
                f"{self._stream}: next sealed segment starts at seq "
                f"{listed.segments[0].first_seq}, expected {expected}",
                type=error_types.SEGMENT_NOT_FOUND,
                non_retryable=True,
            )
        slots = asyncio.Semaphore(concurrency)

        async def upload(first_seq: int) -> ShippedSegment:
            async with slots:
                shipped: ShippedSegment = await workflow.execute_activity(
                    SHIP_SEGMENT,
                    ShipSegmentInput(source=source, first_seq=first_seq),
                    result_type=ShippedSegment,
                    task_queue=node_queue(source.region, source.node),
                    start_to_close_timeout=timedelta(minutes=5),
                    heartbeat_timeout=timedelta(seconds=10),
                    retry_policy=UPLOAD_RETRY,
                )
                return shipped

        uploads = [asyncio.ensure_future(upload(s.first_seq)) for s in listed.segments]
        # Commit in order as soon as each upload is done; later uploads keep running meanwhile.
        for pending in uploads:
            if self._paused:
                break  # uploads still running are harmless: a re-upload is identical
            shipped = await pending
            manifest_sha256 = await workflow.execute_activity(
                COMMIT_MANIFEST,
                CommitManifestInput(
                    source=source,
                    segment=shipped,
                    prev_manifest_sha256=self._state.last_manifest_sha256,
                ),
                result_type=str,
                task_queue=node_queue(source.region, source.node),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=UPLOAD_RETRY,
            )
            self._state.last_seq = shipped.last_seq
            self._state.last_manifest_sha256 = manifest_sha256
            self._state.segments_shipped += 1
            self._state.raw_bytes_shipped += shipped.raw_bytes
            self._state.compressed_bytes_shipped += shipped.compressed_bytes
            self._state.last_error = None

    async def _read_watermark(self, source: StreamRef) -> ShipState:
        mark = await workflow.execute_activity(
            READ_SHIP_WATERMARK,
            ReadShipWatermarkInput(source=source),
            result_type=ShipWatermark,
            task_queue=node_queue(source.region, source.node),
            # Read from seq 0 it repairs the whole history in every target: it may take long,
            # and heartbeats while it does.
            start_to_close_timeout=RUN_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=UPLOAD_RETRY,
        )
        return ShipState(last_seq=mark.last_seq, last_manifest_sha256=mark.manifest_sha256)

    async def _audit_store(self, source: StreamRef) -> None:
        """One bounded window of the store audit; its cursor travels in the state, so successive
        runs go round the whole history."""
        try:
            audit = await workflow.execute_activity(
                REPAIR_STORE,
                RepairStoreInput(source=source, cursor=self._state.store_audit),
                result_type=RepairStoreResult,
                task_queue=node_queue(source.region, source.node),
                start_to_close_timeout=RUN_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=AUDIT_RETRY,
            )
        except ActivityError:
            return  # a store is down: shipping retries it anyway, the next run audits again
        finally:
            self._last_audit = workflow.now()
        self._state.store_audit = audit.cursor
        self._state.store_problems = audit.problems

    def _audit_due(self, request: ShipWalInput) -> bool:
        interval = request.store_audit_interval_s
        if interval is None or not workflow.patched(SHIP_AUDITS_PERIODICALLY):
            return False
        last = self._last_audit
        return last is None or (workflow.now() - last).total_seconds() >= interval

    @property
    def _what(self) -> str:
        return f"{self._stream}: shipping"

    @workflow.query
    def status(self) -> ShipStatus:
        """The stream's shipping position, counters, store audit and last error, and whether it
        is paused (only once no run is still committing)."""
        # Paused once nothing ships any more: a run told to stop may still be committing.
        paused = self._paused and not self._run_in_flight
        return ShipStatus(stream=self._stream, paused=paused, state=self._state)
