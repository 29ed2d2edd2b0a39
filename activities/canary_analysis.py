"""The canary verdict of one window: the candidate build's error ratio and latency against the
baseline (current) build's, under a policy's burn-rate thresholds. Pure: the analysis activity
reads the counters, this decides what they mean.

- fail: at least `min_errors` errors and an error ratio that burns the SLO's error budget more
  than `max_burn_rate` times as fast, and worse than the baseline's (a baseline failing alike
  points at a dependency, not at the build); or, with enough executions on both builds, a mean
  activity or workflow latency above `max_latency_ratio` times the baseline's and slower by at
  least `min_latency_delta_ms` (a few milliseconds more on a fast activity are noise).
- inconclusive: fewer than `min_executions` executions on the candidate, or a high burn rate
  from fewer than `min_errors` errors, or one the baseline burns as fast: a person decides.
- pass: otherwise.
"""

from __future__ import annotations

from activities.canary_models import BuildFigures, Verdict
from ledger.canary_figures import BuildTotals
from ledger.deployment_config import CanaryPolicy


def figures(build_id: str, totals: BuildTotals, policy: CanaryPolicy) -> BuildFigures:
    """What the policy measures of one build's executions in a window."""
    ratio = totals.error_ratio
    return BuildFigures(
        build_id=build_id,
        executions=totals.executions,
        errors=totals.errors,
        error_ratio=ratio,
        burn_rate=None if ratio is None else ratio / policy.slo_error_ratio,
        activity_latency_ms=totals.activity_latency_ms,
        workflow_latency_ms=totals.workflow_latency_ms,
    )


def judge(
    candidate: BuildFigures, baseline: BuildFigures | None, policy: CanaryPolicy
) -> tuple[Verdict, str]:
    """The verdict on `candidate` against `baseline` (None: no current build to compare)."""
    burning = candidate.burn_rate is not None and candidate.burn_rate > policy.max_burn_rate
    if burning and candidate.errors >= policy.min_errors and _worse_than(candidate, baseline):
        return Verdict.FAIL, (
            f"build {candidate.build_id}: {candidate.errors:g} errors in "
            f"{candidate.executions:g} executions, error ratio {candidate.error_ratio:.3g} burns "
            f"the budget {candidate.burn_rate:.3g}x > {policy.max_burn_rate:g}x"
            + _against(baseline)
        )
    if candidate.executions < policy.min_executions:
        return Verdict.INCONCLUSIVE, (
            f"build {candidate.build_id}: {candidate.executions:g} executions in the window, the "
            f"policy needs {policy.min_executions} to judge it"
        )
    slow = _slower(candidate, baseline, policy)
    if slow is not None:
        return Verdict.FAIL, slow
    if burning and candidate.errors < policy.min_errors:
        return Verdict.INCONCLUSIVE, (
            f"build {candidate.build_id}: burn rate {candidate.burn_rate:.3g}x from "
            f"{candidate.errors:g} errors, fewer than the {policy.min_errors} a rollback needs"
        )
    if burning:
        return Verdict.INCONCLUSIVE, (
            f"build {candidate.build_id}: burn rate {candidate.burn_rate:.3g}x, but no worse "
            f"than the current build (a dependency failing both?)" + _against(baseline)
        )
    return Verdict.PASS, (
        f"build {candidate.build_id}: {candidate.executions:g} executions, error ratio "
        f"{candidate.error_ratio or 0:.3g} (burn {candidate.burn_rate or 0:.3g}x <= "
        f"{policy.max_burn_rate:g}x), latency within {policy.max_latency_ratio:g}x"
        + _against(baseline)
    )


def _worse_than(candidate: BuildFigures, baseline: BuildFigures | None) -> bool:
    if baseline is None or baseline.error_ratio is None or candidate.error_ratio is None:
        return True
    return candidate.error_ratio > baseline.error_ratio


def _slower(
    candidate: BuildFigures, baseline: BuildFigures | None, policy: CanaryPolicy
) -> str | None:
    if baseline is None or baseline.executions < policy.min_executions:
        return None  # no baseline to compare latency with: judged on errors alone
    pairs = (
        ("activity", candidate.activity_latency_ms, baseline.activity_latency_ms),
        ("workflow", candidate.workflow_latency_ms, baseline.workflow_latency_ms),
    )
    for kind, new, old in pairs:
        if new is None or not old:
            continue
        if new > old * policy.max_latency_ratio and new - old >= policy.min_latency_delta_ms:
            return (
                f"build {candidate.build_id}: mean {kind} latency {new:.1f} ms > "
                f"{policy.max_latency_ratio:g}x build {baseline.build_id}'s {old:.1f} ms"
            )
    return None


def _against(baseline: BuildFigures | None) -> str:
    if baseline is None:
        return " (no current build to compare with)"
    ratio = "-" if baseline.error_ratio is None else f"{baseline.error_ratio:.3g}"
    return f"; build {baseline.build_id}: {baseline.executions:g} executions, error ratio {ratio}"
