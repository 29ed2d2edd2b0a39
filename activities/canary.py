"""The canary's activities (ops queue): route a share of a deployment's new work to a build
through Temporal's worker deployment API, read and judge the builds' SDK metrics, and roll a
build back. They use the worker's own client (`activity.client()`); the workflow only decides.
"""

from __future__ import annotations

from temporalio import activity

from activities.canary_analysis import figures, judge
from activities.canary_metrics import CANARY_ROLLBACKS, CANARY_STEP
from activities.canary_models import (
    Analysis,
    AnalyzeInput,
    RampInput,
    RollbackInput,
    RollbackResult,
    RollbackTrigger,
    Snapshot,
    Verdict,
)
from activities.names import CANARY_ANALYZE, CANARY_ROLL_BACK, CANARY_SET_RAMP
from ledger.canary_figures import BuildTotals
from ledger.deployment_config import BUILD_ID_TAG, DEPLOYMENT_TAG
from ledger.deployment_routing import Routing
from storage.deployments.routing import move_pinned, route_to, routing_of, stop_ramp
from storage.telemetry.build_metrics import read_builds


@activity.defn(name=CANARY_SET_RAMP)
async def set_ramp(step: RampInput) -> Routing:
    """Route `percentage` % of the deployment's new work to the build (100: make it current).
    Retried until the build's workers have polled: the server refuses a version it has not seen."""
    client = activity.client()
    await route_to(client, step.deployment, step.build_id, step.percentage)
    CANARY_STEP.labels(step.deployment).set(step.percentage)
    for trigger in RollbackTrigger:
        # Exported at 0 from the first ramp, so the first rollback is an increase() to alert on.
        CANARY_ROLLBACKS.labels(step.deployment, trigger.value)
    return await routing_of(client, step.deployment)


@activity.defn(name=CANARY_ANALYZE)
async def analyze(request: AnalyzeInput) -> Analysis:
    """Read the builds' counters; with `since`, judge the window since that reading."""
    reading = await read_builds(
        request.metrics_targets, request.deployment, DEPLOYMENT_TAG, BUILD_ID_TAG
    )
    snapshot = Snapshot(builds=reading.builds, unreachable=reading.unreachable)
    if request.since is None:
        return Analysis(verdict=Verdict.INCONCLUSIVE, reason="first reading", snapshot=snapshot)
    before = request.since.builds
    candidate = figures(
        request.candidate_build,
        _window(reading.builds, before, request.candidate_build),
        request.policy,
    )
    baseline = None
    if request.baseline_build is not None:
        baseline = figures(
            request.baseline_build,
            _window(reading.builds, before, request.baseline_build),
            request.policy,
        )
    verdict, reason = judge(candidate, baseline, request.policy)
    if reading.unreachable:
        reason += f" (not scraped: {', '.join(reading.unreachable)})"
    activity.logger.info("canary %s: %s: %s", request.deployment, verdict.value, reason)
    return Analysis(
        verdict=verdict, reason=reason, candidate=candidate, baseline=baseline, snapshot=snapshot
    )


def _window(now: dict[str, BuildTotals], before: dict[str, BuildTotals], build: str) -> BuildTotals:
    return now.get(build, BuildTotals()).since(before.get(build))


@activity.defn(name=CANARY_ROLL_BACK)
async def roll_back(request: RollbackInput) -> RollbackResult:
    """Ramp 0 (the current build unchanged), and move the running workflows pinned to the build
    onto the current one, so nothing keeps running on it. Idempotent."""
    client = activity.client()
    routing = await routing_of(client, request.deployment)
    if routing.ramping_build == request.build_id:
        await stop_ramp(client, request.deployment)
        routing = await routing_of(client, request.deployment)
    moved = await move_pinned(client, request.deployment, request.build_id, routing.current_build)
    CANARY_STEP.labels(request.deployment).set(0)
    # Last, so a retried rollback counts once.
    CANARY_ROLLBACKS.labels(request.deployment, request.trigger.value).inc()
    activity.logger.warning(
        "canary %s: build %s rolled back (%d pinned workflows moved): %s",
        request.deployment,
        request.build_id,
        moved,
        request.reason,
    )
    return RollbackResult(routing=routing, moved_workflows=moved)
