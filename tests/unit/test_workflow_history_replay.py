"""Committed histories of the CRR workflows replay on the current workflow code, so a change that
would break workflows already running (a non-deterministic change: different activities, timers
or order) fails here instead of in production.

The histories are recorded by tests/fixtures/histories/record.py (its docstring has the command
and what the scenario covers); they are every run of one ShipWalWorkflow and one
ReplayWalWorkflow through a continue-as-new, with pauses, a cancelled listing, a tampered segment
and resumes along the way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.replay_wal import ReplayWalWorkflow
from workflows.ship_wal import ShipState, ShipWalInput, ShipWalWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"
RECORDED = sorted(HISTORIES.glob("*.json"))


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


def test_the_recorded_histories_cover_both_workflows_and_continue_as_new() -> None:
    histories = [load(path) for path in RECORDED]
    for name in ("ShipWalWorkflow", "ReplayWalWorkflow"):
        runs = [h for h in histories if workflow_type(h) == name]
        assert any(is_first_run(h) for h in runs), f"no first run of {name}"
        assert any(ends_in_continue_as_new(h) for h in runs), f"no {name} run continued as new"
        # A run started by continue-as-new begins from the state the previous run carried.
        assert any(not is_first_run(h) for h in runs), f"no {name} run after continue-as-new"


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.name)
async def test_a_recorded_history_replays_on_the_current_workflow_code(path: Path) -> None:
    result = await replayer(ShipWalWorkflow, ReplayWalWorkflow).replay_workflow(load(path))
    assert result.replay_failure is None


@workflow.defn(name="ShipWalWorkflow", sandboxed=False)
class ShipWalWorkflowWithoutWatermark(ShipWalWorkflow):
    """A change that is not replay-safe: a first run no longer reads its watermark activity."""

    @workflow.run
    async def run(self, request: ShipWalInput) -> None:
        await super().run(request.model_copy(update={"state": request.state or ShipState()}))


async def test_a_non_deterministic_change_fails_the_replay() -> None:
    first_runs = [
        h for h in map(load, RECORDED) if workflow_type(h) == "ShipWalWorkflow" and is_first_run(h)
    ]
    assert first_runs
    for history in first_runs:
        with pytest.raises(workflow.NondeterminismError):
            await replayer(ShipWalWorkflowWithoutWatermark).replay_workflow(history)
