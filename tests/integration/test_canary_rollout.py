"""CanaryWorkflow on the real Temporal dev server, against two builds of a fresh worker deployment
(tests/integration/canary_support.py), with windows of a couple of seconds:

- a good build ramps 10 -> 50 -> 100 % and becomes current; a PINNED workflow started on the old
  build keeps it while an AUTO_UPGRADE one moves to the new build, and so does a real
  ReplayWalWorkflow (a CRR tailer) registered as a versioned worker registers it;
- a build whose activities fail (GEOLEDGER_FAIL_AT) is rolled back within one analysis window:
  ramp 0, the old build still current, canary_rollbacks_total +1, the reason in the status, memo
  and GeoPhase, and no workflow left running on it (a workflow pinned to it moved to the old
  build);
- with no traffic the analysis is inconclusive and the canary waits (`geoledger canary status`
  exits 5): a `geoledger canary promote` by someone the policy does not name is refused (exit 1),
  one by a promoter finishes it; abort rolls another back.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from prometheus_client import REGISTRY
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior

from activities.canary_models import CanaryPhase, CanaryStatus, Decision
from activities.crr_models import LongPoll
from cli.common import ExitCode
from ledger.config import CONFIG_ENV_VAR, Settings
from ledger.deployment_config import CanaryPolicy, DeploymentConfig
from storage.faults import FAIL_AT_ENV
from tests.conftest import RunningStack
from tests.integration.canary_support import (
    PROBE_FAULT,
    PinnedProbeWorkflow,
    Probes,
    WaitingProbeWorkflow,
    build_worker,
    canary_worker,
    make_current,
    pinned_build,
    registered,
    routing,
    running_on,
    start_pinned_to,
    traffic,
)
from tests.support.processes import run_geoledger
from workers.canary_control import (
    CanaryRefused,
    canary_status,
    control_canary,
    start_canary,
)
from workers.client import connect
from workflows.canary import GEO_PHASE, REASON_MEMO, CanaryWorkflow
from workflows.canary_ids import canary_workflow_id
from workflows.replay_wal import ReplayWalInput, ReplayWalWorkflow

pytestmark = pytest.mark.timeout(120)

WINDOW_S = 2.0
POLICY = CanaryPolicy(
    steps=[10, 50, 100],
    window_s=WINDOW_S,
    check_interval_s=0.5,
    min_executions=4,
    min_errors=2,
    # In-process probes take milliseconds, jittering by more than any ratio.
    min_latency_delta_ms=1_000.0,
    promoters=["alice"],
)


@pytest.fixture
async def client(running_stack: RunningStack) -> Client:
    return await connect(running_stack.settings)


@pytest.fixture
def probes(running_stack: RunningStack) -> Probes:
    tag = uuid.uuid4().hex[:8]
    return Probes(running_stack.temporal_address, f"probe-{tag}", f"probe-deployment-{tag}")


@pytest.fixture
async def stack(
    running_stack: RunningStack, client: Client, probes: Probes
) -> AsyncIterator[tuple[Settings, str]]:
    """Build v1 (current) and v2 running, and a canary worker; yields the settings whose
    [deployment] has the probe deployment's policy and both builds' /metrics, and the canary's
    task queue."""
    async with AsyncExitStack() as workers:
        urls = [
            await workers.enter_async_context(build_worker(running_stack.settings, probes, build))
            for build in ("v1", "v2")
        ]
        queue = await workers.enter_async_context(canary_worker(client))
        await make_current(client, probes.deployment, "v1")
        await registered(client, probes.deployment, "v1", "v2")
        deployment = DeploymentConfig(metrics_targets=urls, policies={probes.deployment: POLICY})
        yield running_stack.settings.model_copy(update={"deployment": deployment}), queue


async def finished(
    client: Client, probes: Probes, build: str, timeout_s: float = 60
) -> CanaryStatus:
    handle = client.get_workflow_handle_for(
        CanaryWorkflow.run, canary_workflow_id(probes.deployment, build)
    )
    result = await asyncio.wait_for(handle.result(), timeout_s)
    return result


async def phase_becomes(
    client: Client, probes: Probes, build: str, phase: CanaryPhase, timeout_s: float = 30
) -> CanaryStatus:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await canary_status(client, probes.deployment, build)
        if status.phase is phase or time.monotonic() > deadline:
            assert status.phase is phase, status
            return status
        await asyncio.sleep(0.2)


async def wait_running_on(client: Client, deployment: str, build: str) -> None:
    for _ in range(100):
        if await running_on(client, deployment, build):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing runs on {deployment}:{build}")


async def eventually_pinned(handle: WorkflowHandle[Any, Any]) -> tuple[str, int]:
    """Its build and behaviour once its first workflow task ran (none before that)."""
    for _ in range(100):
        build, behavior = await pinned_build(handle)
        if build:
            return build, behavior
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never ran a workflow task")


async def test_a_good_build_ramps_to_current_and_pinned_workflows_keep_their_build(
    client: Client, probes: Probes, stack: tuple[Settings, str]
) -> None:
    settings, canary_queue = stack
    pinned = await client.start_workflow(
        PinnedProbeWorkflow.run, id=f"pinned-{uuid.uuid4().hex}", task_queue=probes.queue
    )
    moving = await client.start_workflow(
        WaitingProbeWorkflow.run, id=f"moving-{uuid.uuid4().hex}", task_queue=probes.queue
    )
    # A real CRR tailer, started on v1 and waiting on its first activity (no CRR activities here).
    tailer = await client.start_workflow(
        ReplayWalWorkflow.run,
        ReplayWalInput(
            source_region="us",
            source_node=f"n-{uuid.uuid4().hex[:6]}",
            into_region="eu",
            poll=LongPoll(wait_s=1.0, interval_s=0.5),
        ),
        id=f"tailer-{uuid.uuid4().hex}",
        task_queue=probes.queue,
    )
    assert await eventually_pinned(tailer) == ("v1", VersioningBehavior.PINNED)
    async with traffic(client, probes.queue) as answers:
        await start_canary(client, settings, probes.deployment, "v2", "ci", canary_queue)
        status = await finished(client, probes, "v2")

    assert status.phase is CanaryPhase.PROMOTED, status
    assert status.baseline_build == "v1"
    assert (await routing(client, probes.deployment)).current_build == "v2"
    assert "v2" in answers and "failed" not in answers
    # Both were started on v1 (then current); now v2 is.
    await pinned.signal(PinnedProbeWorkflow.go)
    await moving.signal(WaitingProbeWorkflow.go)
    assert await pinned.result() == "v1"
    assert await moving.result() == "v2"
    # The CRR tailer stays on the build it started on after v2 became current.
    assert await pinned_build(tailer) == ("v1", VersioningBehavior.PINNED)
    await tailer.terminate("test done")


async def test_a_build_whose_activities_fail_is_rolled_back_within_one_window(
    client: Client,
    probes: Probes,
    stack: tuple[Settings, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, canary_queue = stack
    monkeypatch.setenv(FAIL_AT_ENV, f"{PROBE_FAULT}:v2")
    labels = {"deployment": probes.deployment, "trigger": "analysis"}
    # A long-running workflow pinned to v2 (as a tailer started during the ramp would be).
    stranded = await start_pinned_to(client, probes, "v2")
    await wait_running_on(client, probes.deployment, "v2")
    async with traffic(client, probes.queue) as answers:
        started = time.monotonic()
        await start_canary(client, settings, probes.deployment, "v2", "ci", canary_queue)
        status = await finished(client, probes, "v2")
        took = time.monotonic() - started

    assert status.phase is CanaryPhase.ROLLED_BACK, status
    # One window of the first step, plus the time to start and to roll back.
    assert took < WINDOW_S + 5, took
    assert status.reason and "burns the budget" in status.reason
    assert "failed" in answers
    after = await routing(client, probes.deployment)
    assert (after.current_build, after.ramping_build) == ("v1", None)
    assert REGISTRY.get_sample_value("canary_rollbacks_total", labels) == 1
    assert REGISTRY.get_sample_value("canary_step", {"deployment": probes.deployment}) == 0
    described = await client.get_workflow_handle(
        canary_workflow_id(probes.deployment, "v2")
    ).describe()
    assert (await described.memo_value(REASON_MEMO)) == status.reason
    assert described.typed_search_attributes.get(GEO_PHASE) == CanaryPhase.ROLLED_BACK.value
    # Moved onto v1 by the rollback: nothing runs on v2 any more.
    assert status.moved_workflows == 1
    assert await running_on(client, probes.deployment, "v2") == 0
    await stranded.signal(PinnedProbeWorkflow.go)
    assert await stranded.result() == "v1"


async def test_an_inconclusive_canary_waits_for_a_person(
    running_stack: RunningStack, client: Client, probes: Probes, stack: tuple[Settings, str]
) -> None:
    settings, canary_queue = stack
    # No traffic at all: nothing to judge.
    await start_canary(client, settings, probes.deployment, "v2", "ci", canary_queue)
    paused = await phase_becomes(client, probes, "v2", CanaryPhase.PAUSED)
    assert paused.percentage == 10 and paused.reason and "executions" in paused.reason

    # As an operator would: `geoledger canary status | promote` (the policy through the
    # environment, on the stack's configuration).
    env = {
        **os.environ,
        CONFIG_ENV_VAR: str(running_stack.config_path),
        "GEOLEDGER_DEPLOYMENT__POLICIES": json.dumps(
            {probes.deployment: POLICY.model_dump(mode="json")}
        ),
    }
    target = ("--deployment", probes.deployment, "--build", "v2")
    shown = await run_geoledger(env, "canary", "status", *target, "--json")
    assert shown.code == ExitCode.PENDING, shown.stderr
    assert json.loads(shown.stdout)["phase"] == "paused"
    refused = await run_geoledger(env, "canary", "promote", *target, "--who", "mallory")
    assert refused.code == ExitCode.FAILED and "'mallory' may not promote" in refused.said
    promoted = await run_geoledger(env, "canary", "promote", *target, "--who", "alice", "--full")
    assert promoted.code == ExitCode.OK, promoted.stderr
    unknown = await run_geoledger(env, "canary", "status", *target[:2], "--build", "v9")
    assert unknown.code == ExitCode.BAD_INPUT, unknown.stderr
    status = await finished(client, probes, "v2")
    assert (status.phase, status.decided_by) == (CanaryPhase.PROMOTED, "alice")
    assert (await routing(client, probes.deployment)).current_build == "v2"

    # Build v1 back as a canary of its own: paused too, then aborted.
    await start_canary(client, settings, probes.deployment, "v1", "ci", canary_queue)
    await phase_becomes(client, probes, "v1", CanaryPhase.PAUSED)
    await control_canary(client, probes.deployment, "v1", "abort", Decision(who="bob"))
    status = await finished(client, probes, "v1")
    assert (status.phase, status.decided_by) == (CanaryPhase.ABORTED, "bob")
    after = await routing(client, probes.deployment)
    assert (after.current_build, after.ramping_build) == ("v2", None)
    with pytest.raises(CanaryRefused, match="nothing to abort"):
        await control_canary(client, probes.deployment, "v1", "abort", Decision(who="bob"))
