"""CanaryWorkflow: ramps a new build of a worker deployment through its policy's steps (10 % ->
50 % -> current at 100 % by default), holding each step for the policy's window while the
analysis activity compares the build's SDK metrics with the current build's.

- The analysis runs every `check_interval_s` of a window, over everything since the window began:
  a failed one rolls the build back at once (ramp 0, current unchanged, pinned workflows on the
  build moved to the current one), records why (status, memo `canary_reason`, GeoPhase), and
  counts canary_rollbacks_total.
- A window that ends inconclusive (too little traffic) pauses the canary until a person sends
  `promote` or `abort` (workflows/canary_control.py).
- A window that ends passed goes on to the next step; the last step makes the build current.

Workflow id `canary-<deployment>-<build>`, search attribute GeoPhase (the phase, kept current).
PINNED on a versioned worker (workflows/pinned.py): the canary keeps running on the build that
started it while it moves the deployment's work to another. Deterministic: every read and change
of the deployment is an activity.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.canary_models import (
        Analysis,
        AnalyzeInput,
        CanaryInput,
        CanaryPhase,
        CanaryStatus,
        Decision,
        RampInput,
        RollbackInput,
        RollbackResult,
        RollbackTrigger,
        Snapshot,
        Verdict,
    )
    from activities.names import CANARY_ANALYZE, CANARY_ROLL_BACK, CANARY_SET_RAMP
    from ledger import search_attributes
    from ledger.deployment_routing import Routing
    from workflows.canary_control import CanaryControl

GEO_PHASE = SearchAttributeKey.for_keyword(search_attributes.GEO_PHASE)
REASON_MEMO = "canary_reason"
STEP_TIMEOUT = timedelta(seconds=30)
# A build whose workers have not polled yet is refused by the server: retry for about a minute.
RAMP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=15,
)
ANALYZE_RETRY = RetryPolicy(maximum_attempts=3)
# A rollback must happen: retried until it does.
ROLLBACK_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))


@workflow.defn
class CanaryWorkflow(CanaryControl):
    """One rollout of one build of one worker deployment."""

    @workflow.init
    def __init__(self, request: CanaryInput) -> None:
        self._request = request
        self._status = CanaryStatus(
            deployment=request.deployment,
            build_id=request.build_id,
            phase=CanaryPhase.RAMPING,
            steps=list(request.policy.steps),
        )
        self._promoted: Decision | None = None
        self._aborted: Decision | None = None

    @workflow.run
    async def run(self, request: CanaryInput) -> CanaryStatus:
        """Ramp step by step until the build is current, rolled back or aborted."""
        steps = request.policy.steps
        index = 0
        while index < len(steps):
            status = self._status
            status.step_index, status.percentage = index, steps[index]
            try:
                routing = await self._ramp(steps[index])
            except ActivityError as exc:
                why = f"could not route {steps[index]} % to the build: {exc.cause or exc}"
                await self._roll_back(why, RollbackTrigger.ERROR, CanaryPhase.ROLLED_BACK)
                break
            if index == 0:
                status.baseline_build = routing.current_build
            if steps[index] >= 100:
                self._enter(CanaryPhase.PROMOTED, f"build {request.build_id} is current")
                break
            analysis = await self._hold()
            if self._aborted is None and analysis.verdict is Verdict.FAIL:
                await self._roll_back(
                    analysis.reason, RollbackTrigger.ANALYSIS, CanaryPhase.ROLLED_BACK
                )
                break
            if self._aborted is None and analysis.verdict is Verdict.INCONCLUSIVE:
                await self._wait_for_a_person(analysis.reason)
            if self._aborted is not None:
                decision = self._aborted
                why = f"aborted by {decision.who}"
                why += f": {decision.reason}" if decision.reason else ""
                await self._roll_back(why, RollbackTrigger.ABORT, CanaryPhase.ABORTED)
                break
            index = self._next_step(index)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    def _next_step(self, index: int) -> int:
        promoted, self._promoted = self._promoted, None
        if promoted is not None:
            self._status.decided_by = promoted.who
            if promoted.full:
                return len(self._request.policy.steps) - 1
        return index + 1

    async def _ramp(self, percentage: int) -> Routing:
        request = self._request
        routing: Routing = await workflow.execute_activity(
            CANARY_SET_RAMP,
            RampInput(
                deployment=request.deployment, build_id=request.build_id, percentage=percentage
            ),
            result_type=Routing,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RAMP_RETRY,
        )
        return routing

    async def _hold(self) -> Analysis:
        """Hold the step for one window, analysing every check interval; end early on a failed
        analysis or an abort. The last analysis is the window's."""
        policy = self._request.policy
        ends = workflow.now() + timedelta(seconds=policy.window_s)
        self._status.window_ends_at = ends
        since = (await self._analyze(None)).snapshot
        while True:
            left = (ends - workflow.now()).total_seconds()
            with contextlib.suppress(TimeoutError):  # the check interval is over
                await workflow.wait_condition(
                    lambda: self._aborted is not None,
                    timeout=timedelta(seconds=max(min(policy.check_interval_s, left), 0.001)),
                )
            if self._aborted is not None:
                return Analysis(verdict=Verdict.INCONCLUSIVE, reason="aborted")
            analysis = await self._analyze(since)
            self._status.last_analysis = analysis
            if analysis.verdict is Verdict.FAIL or workflow.now() >= ends:
                self._status.window_ends_at = None
                return analysis

    async def _analyze(self, since: Snapshot | None) -> Analysis:
        request = self._request
        try:
            analysis: Analysis = await workflow.execute_activity(
                CANARY_ANALYZE,
                AnalyzeInput(
                    deployment=request.deployment,
                    candidate_build=request.build_id,
                    baseline_build=self._status.baseline_build,
                    metrics_targets=request.metrics_targets,
                    policy=request.policy,
                    since=since,
                ),
                result_type=Analysis,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=ANALYZE_RETRY,
            )
        except ActivityError as exc:
            # Metrics that cannot be read prove nothing either way: a person decides.
            reason = f"the analysis could not run: {exc.cause or exc}"
            return Analysis(
                verdict=Verdict.INCONCLUSIVE, reason=reason, snapshot=since or Snapshot()
            )
        return analysis

    async def _wait_for_a_person(self, reason: str) -> None:
        self._enter(CanaryPhase.PAUSED, reason)
        self._status.waiting_for = (
            f"a person: `geoledger canary promote|abort --deployment {self._request.deployment} "
            f"--build {self._request.build_id}`, or the promote/abort signal in the web UI"
        )
        await workflow.wait_condition(
            lambda: self._promoted is not None or self._aborted is not None
        )
        self._status.waiting_for = None
        if self._aborted is None:
            self._enter(CanaryPhase.RAMPING, None)

    async def _roll_back(self, reason: str, trigger: RollbackTrigger, phase: CanaryPhase) -> None:
        request = self._request
        if self._aborted is not None:
            self._status.decided_by = self._aborted.who
        result: RollbackResult = await workflow.execute_activity(
            CANARY_ROLL_BACK,
            RollbackInput(
                deployment=request.deployment,
                build_id=request.build_id,
                reason=reason,
                trigger=trigger,
            ),
            result_type=RollbackResult,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=ROLLBACK_RETRY,
        )
        self._status.moved_workflows = result.moved_workflows
        self._status.percentage = 0
        self._enter(phase, reason)

    def _enter(self, phase: CanaryPhase, reason: str | None) -> None:
        self._status.phase = phase
        self._status.reason = reason
        workflow.upsert_search_attributes([GEO_PHASE.value_set(phase.value)])
        workflow.upsert_memo({REASON_MEMO: reason})
