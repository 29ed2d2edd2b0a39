"""The canary verdict (activities/canary_analysis.py) from the SDK's own metrics text
(storage/telemetry/build_metrics.py), and the workflows a versioned worker pins."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.workflow import _Definition

from activities.canary_analysis import figures, judge
from activities.canary_models import Verdict
from ledger.canary_figures import BuildTotals
from ledger.config import Settings, load_settings
from ledger.deployment_config import BUILD_ID_TAG, DEPLOYMENT_TAG, CanaryPolicy
from storage.telemetry.build_metrics import totals_by_build
from workers.deployment import versioned_workflows
from workers.registry import registration_for
from workflows import queues

REPO_ROOT = Path(__file__).resolve().parents[2]

POLICY = CanaryPolicy(min_executions=20, min_errors=3, min_latency_delta_ms=50)

# As the core SDK's Prometheus exporter writes them (global tags last).
SDK_TEXT = """\
# HELP temporal_workflow_completed Count of successfully completed workflows
# TYPE temporal_workflow_completed counter
temporal_workflow_completed{workflow_type="P",deployment="d",build_id="v1"} 40
temporal_workflow_completed{workflow_type="P",deployment="d",build_id="v2"} 6
temporal_workflow_completed{workflow_type="P",deployment="other",build_id="v2"} 99
# TYPE temporal_workflow_failed counter
temporal_workflow_failed{workflow_type="P",deployment="d",build_id="v2"} 4
# TYPE temporal_activity_execution_failed counter
temporal_activity_execution_failed{failure_reason="x",deployment="d",build_id="v2"} 4
# TYPE temporal_activity_execution_latency histogram
temporal_activity_execution_latency_bucket{deployment="d",build_id="v2",le="+Inf"} 10
temporal_activity_execution_latency_sum{activity_type="a",deployment="d",build_id="v2"} 250
temporal_activity_execution_latency_count{activity_type="a",deployment="d",build_id="v2"} 10
temporal_activity_execution_latency_count{activity_type="a",deployment="d",build_id="v1"} 40
"""


def test_sdk_samples_are_summed_per_build_of_the_deployment_only() -> None:
    builds = totals_by_build(SDK_TEXT, "d", DEPLOYMENT_TAG, BUILD_ID_TAG)
    assert set(builds) == {"v1", "v2"}
    v2 = builds["v2"]
    assert (v2.workflows_completed, v2.workflows_failed) == (6, 4)
    assert (v2.activities, v2.activities_failed, v2.activity_latency_ms) == (10, 4, 25.0)
    assert v2.error_ratio == 0.4


def test_a_window_is_the_difference_and_a_reset_counts_whole() -> None:
    before = BuildTotals(workflows_completed=10, activities=10)
    after = BuildTotals(workflows_completed=15, activities=12, activities_failed=1)
    assert after.since(before) == BuildTotals(
        workflows_completed=5, activities=2, activities_failed=1
    )
    restarted = BuildTotals(workflows_completed=3)
    assert restarted.since(before) == restarted


def verdict(candidate: BuildTotals, baseline: BuildTotals | None) -> Verdict:
    base = None if baseline is None else figures("v1", baseline, POLICY)
    return judge(figures("v2", candidate, POLICY), base, POLICY)[0]


HEALTHY = BuildTotals(
    workflows_completed=100,
    workflow_latency_count=100,
    workflow_latency_ms_sum=2_000,
    activities=100,
    activity_latency_ms_sum=1_000,
)


@pytest.mark.parametrize(
    ("candidate", "baseline", "expected"),
    [
        pytest.param(HEALTHY, HEALTHY, Verdict.PASS, id="as-good-as-current"),
        pytest.param(HEALTHY, None, Verdict.PASS, id="no-current-build"),
        pytest.param(
            BuildTotals(
                workflows_completed=5, workflows_failed=5, activities=10, activities_failed=5
            ),
            HEALTHY,
            Verdict.FAIL,
            id="failing-with-little-traffic-is-enough",
        ),
        pytest.param(
            HEALTHY.model_copy(update={"activities_failed": 20}),
            HEALTHY.model_copy(update={"activities_failed": 30}),
            Verdict.INCONCLUSIVE,
            id="current-build-fails-alike",
        ),
        pytest.param(
            BuildTotals(workflows_completed=5, activities=5),
            HEALTHY,
            Verdict.INCONCLUSIVE,
            id="too-few-executions",
        ),
        pytest.param(
            BuildTotals(workflows_completed=30, activities=15, activities_failed=2),
            HEALTHY,
            Verdict.INCONCLUSIVE,
            id="burning-from-too-few-errors",
        ),
        pytest.param(
            HEALTHY.model_copy(update={"activity_latency_ms_sum": 20_000}),
            HEALTHY,
            Verdict.FAIL,
            id="slower-than-current",
        ),
        pytest.param(
            HEALTHY.model_copy(update={"activity_latency_ms_sum": 4_000}),
            HEALTHY,
            Verdict.PASS,
            id="slower-by-less-than-the-delta",
        ),
    ],
)
def test_the_verdict(
    candidate: BuildTotals, baseline: BuildTotals | None, expected: Verdict
) -> None:
    assert verdict(candidate, baseline) is expected


def test_a_versioned_worker_pins_the_long_running_workflows_under_their_own_names() -> None:
    version = WorkerDeploymentVersion(deployment_name="d", build_id="b")
    for queue in (queues.CRR, queues.OPS):
        registered = registration_for(queue, _settings()).workflows
        assert versioned_workflows(registered, None) == list(registered)
        for plain, variant in zip(
            registered, versioned_workflows(registered, version), strict=True
        ):
            ours, theirs = _Definition.must_from_class(plain), _Definition.must_from_class(variant)
            assert ours.name == theirs.name
            pinned = ours.name in {"ShipWalWorkflow", "ReplayWalWorkflow", "CanaryWorkflow"}
            assert (theirs.versioning_behavior is VersioningBehavior.PINNED) is pinned
            assert ours.versioning_behavior is VersioningBehavior.UNSPECIFIED


def _settings() -> Settings:
    return load_settings(REPO_ROOT / "geoledger.toml")
