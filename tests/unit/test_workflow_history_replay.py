"""Committed histories of the CRR, tiering, audit and re-sharding workflows replay on the current
workflow code, so a change that would break workflows already running (a non-deterministic change:
different activities, timers or order) fails here instead of in production.

The histories are recorded by tests/fixtures/histories/record.py (its docstring has the command
and what the scenarios cover); they are every run of one ShipWalWorkflow and one
ReplayWalWorkflow through a continue-as-new, with pauses, a cancelled listing, a tampered segment
and resumes along the way; every run of one DemotionWorkflow (expire, warm and cold in every
region and shard, a throttle wait ended by a signal, a pause and a resume, a continue-as-new);
one RestoreWorkflow of a GLACIER pack; every run of one AnchorLogWorkflow (a child
AuditSegmentWorkflow that dead-lettered its segment, the segment's leaves signalled by its replay,
batches closed by age and by size, each attested, a continue-as-new); and the
AuditSegmentWorkflow replayed from the dead-letter queue, which signals the anchor workflow; and
every run of two DedupMigrationWorkflows (paused, rate changed and a refused approval by signal,
approved by update and by signal, done; the way back, rolled back during its re-verify), each
through continue-as-new; and three CanaryWorkflows (promoted through every step, rolled back by
its analysis, paused twice - a refused promote signal, a promote update - and aborted).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.audit_models import AnchorLogInput, AuditSegmentInput, AuditSegmentResult
from activities.canary_models import Analysis, CanaryInput, CanaryStatus, Snapshot, Verdict
from activities.migrate_models import MigrationInput, MigrationProgress
from activities.names import TIER_RESTORE_WAIT
from activities.tiering_models import RestorePackInput
from workflows.audit_anchor import AnchorLogWorkflow
from workflows.audit_segment import AuditSegmentWorkflow
from workflows.canary import CanaryWorkflow
from workflows.dedup_migration import DedupMigrationWorkflow
from workflows.demotion import DemotionInput, DemotionStatus, DemotionWorkflow
from workflows.replay_wal import ReplayWalWorkflow
from workflows.restore import RestoreWorkflow
from workflows.ship_wal import ShipState, ShipWalInput, ShipWalWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"
RECORDED = sorted(HISTORIES.glob("*.json"))
# The recorded workflows, registered as workers/registry.py registers them: a history replays on
# the class of its type.
WORKFLOWS = (
    ShipWalWorkflow,
    ReplayWalWorkflow,
    DemotionWorkflow,
    RestoreWorkflow,
    AnchorLogWorkflow,
    AuditSegmentWorkflow,
    DedupMigrationWorkflow,
    CanaryWorkflow,
)
CONTINUING = (
    "ShipWalWorkflow",
    "ReplayWalWorkflow",
    "DemotionWorkflow",
    "AnchorLogWorkflow",
    "DedupMigrationWorkflow",
)


def load(path: Path) -> WorkflowHistory:
    """Files are named `<workflow id>.<tag>.run<N>.json`."""
    return WorkflowHistory.from_json(path.name.split(".", 1)[0], path.read_text())


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def is_first_run(history: WorkflowHistory) -> bool:
    started = history.events[0].workflow_execution_started_event_attributes
    return not started.continued_execution_run_id


def ends_in_continue_as_new(history: WorkflowHistory) -> bool:
    return history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")


def replayer(*workflows: type) -> Replayer:
    return Replayer(workflows=list(workflows), data_converter=pydantic_data_converter)


def runs_of(name: str) -> list[WorkflowHistory]:
    return [h for h in map(load, RECORDED) if workflow_type(h) == name]


def test_every_recorded_workflow_has_a_history_and_every_history_a_workflow() -> None:
    recorded = {workflow_type(load(path)) for path in RECORDED}
    assert recorded == {cls.__name__ for cls in WORKFLOWS}


def test_the_recorded_histories_cover_continue_as_new() -> None:
    for name in CONTINUING:
        runs = runs_of(name)
        assert any(is_first_run(h) for h in runs), f"no first run of {name}"
        assert any(ends_in_continue_as_new(h) for h in runs), f"no {name} run continued as new"
        # A run started by continue-as-new begins from the state the previous run carried.
        assert any(not is_first_run(h) for h in runs), f"no {name} run after continue-as-new"


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.name)
async def test_a_recorded_history_replays_on_the_current_workflow_code(path: Path) -> None:
    result = await replayer(*WORKFLOWS).replay_workflow(load(path))
    assert result.replay_failure is None


@workflow.defn(name="ShipWalWorkflow", sandboxed=False)
class ShipWalWorkflowWithoutWatermark(ShipWalWorkflow):
    """A change that is not replay-safe: a first run no longer reads its watermark activity."""

    @workflow.run
    async def run(self, request: ShipWalInput) -> None:
        await super().run(request.model_copy(update={"state": request.state or ShipState()}))


@workflow.defn(name="DemotionWorkflow", sandboxed=False)
class DemotionWorkflowWithoutThrottle(DemotionWorkflow):
    """A change that is not replay-safe: no wait (timer) after a batch, whatever the throttle."""

    @workflow.run
    async def run(self, request: DemotionInput) -> DemotionStatus:
        return await super().run(request)

    async def _throttle(self, bytes_moved: int) -> None:
        return None


@workflow.defn(name="RestoreWorkflow", sandboxed=False)
class RestoreWorkflowWithoutRequest(RestoreWorkflow):
    """A change that is not replay-safe: the wait without asking for the restore first."""

    @workflow.run
    async def run(self, request: RestorePackInput) -> str:
        status: str = await workflow.execute_activity(
            TIER_RESTORE_WAIT, request, result_type=str, start_to_close_timeout=timedelta(days=1)
        )
        return status


@workflow.defn(name="AnchorLogWorkflow", sandboxed=False)
class AnchorLogWorkflowWithoutAttestation(AnchorLogWorkflow):
    """A change that is not replay-safe: a new checkpoint is no longer sent to the witnesses."""

    @workflow.run
    async def run(self, request: AnchorLogInput) -> None:
        await super().run(request)

    async def _attest(self, max_attempts: int) -> None:
        return None


@workflow.defn(name="AuditSegmentWorkflow", sandboxed=False)
class AuditSegmentWorkflowWithoutSignal(AuditSegmentWorkflow):
    """A change that is not replay-safe: a replayed segment no longer tells the anchor workflow."""

    @workflow.run
    async def run(self, request: AuditSegmentInput) -> AuditSegmentResult:
        return await super().run(request.model_copy(update={"notify_anchor": False}))


@workflow.defn(name="DedupMigrationWorkflow", sandboxed=False)
class DedupMigrationWorkflowWithoutAcks(DedupMigrationWorkflow):
    """A change that is not replay-safe: no wait for the writers' acknowledgement of an epoch."""

    @workflow.run
    async def run(self, request: MigrationInput) -> MigrationProgress:
        return await super().run(request)

    async def _acked(self) -> None:
        return None


@workflow.defn(name="CanaryWorkflow", sandboxed=False)
class CanaryWorkflowWithoutFirstReading(CanaryWorkflow):
    """A change that is not replay-safe: a window judged without the reading at its start."""

    @workflow.run
    async def run(self, request: CanaryInput) -> CanaryStatus:
        return await super().run(request)

    async def _analyze(self, since: Snapshot | None) -> Analysis:
        if since is None:
            return Analysis(verdict=Verdict.INCONCLUSIVE, reason="no reading")
        return await super()._analyze(since)


@pytest.mark.parametrize(
    ("name", "changed"),
    [
        pytest.param(name, changed, id=name)
        for name, changed in (
            ("ShipWalWorkflow", ShipWalWorkflowWithoutWatermark),
            ("DemotionWorkflow", DemotionWorkflowWithoutThrottle),
            ("RestoreWorkflow", RestoreWorkflowWithoutRequest),
            ("AnchorLogWorkflow", AnchorLogWorkflowWithoutAttestation),
            ("AuditSegmentWorkflow", AuditSegmentWorkflowWithoutSignal),
            ("DedupMigrationWorkflow", DedupMigrationWorkflowWithoutAcks),
            ("CanaryWorkflow", CanaryWorkflowWithoutFirstReading),
        )
    ],
)
async def test_a_non_deterministic_change_fails_the_replay(name: str, changed: type) -> None:
    first_runs = [h for h in runs_of(name) if is_first_run(h)]
    assert first_runs
    for history in first_runs:
        with pytest.raises(workflow.NondeterminismError):
            await replayer(changed).replay_workflow(history)
