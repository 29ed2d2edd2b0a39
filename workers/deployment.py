"""Which Temporal worker deployment version a worker reports ([deployment] in ledger/
deployment_config.py, or `geoledger worker run --build-id`), and the tags its SDK metrics carry.

Versioning behaviour of our workflows on a versioned worker: the continue-as-new loops and the
long waits - ShipWalWorkflow, ReplayWalWorkflow, AnchorLogWorkflow, DemotionWorkflow,
DedupMigrationWorkflow and CanaryWorkflow - are PINNED (their variants in workflows/pinned.py
replace them on a versioned worker): a run stays on the build it started on, so a tailer never
continues half its history on other code, and a new build takes them over only as they start or
continue as new. Everything else (the smoke test, geo-divergence checks, audit segments,
restores) is short and AUTO_UPGRADE, the worker's default here: it moves to the current build at
its next workflow task.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import WorkerDeploymentConfig

from ledger.deployment_config import BUILD_ID_TAG, DEPLOYMENT_TAG, DeploymentConfig
from workflows.pinned import PINNED_VARIANTS


def worker_version(
    config: DeploymentConfig, queue: str, build_id: str | None = None
) -> WorkerDeploymentVersion | None:
    """The version a worker on `queue` reports; None (unversioned) without a build id."""
    build = build_id if build_id is not None else config.build_id
    if not build:
        return None
    return WorkerDeploymentVersion(deployment_name=config.deployment_name(queue), build_id=build)


def deployment_config(version: WorkerDeploymentVersion | None) -> WorkerDeploymentConfig | None:
    """The worker's deployment options: versioned, AUTO_UPGRADE unless a workflow says PINNED."""
    if version is None:
        return None
    return WorkerDeploymentConfig(
        version=version,
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


def metric_tags(version: WorkerDeploymentVersion | None) -> dict[str, str]:
    """The global tags of the process's SDK metrics: deployment and build id when versioned."""
    if version is None:
        return {}
    return {DEPLOYMENT_TAG: version.deployment_name, BUILD_ID_TAG: version.build_id}


def versioned_workflows(
    workflows: Sequence[type], version: WorkerDeploymentVersion | None
) -> list[type]:
    """The workflows a worker registers: on a versioned one, the long-running ones' PINNED
    variants (an unversioned worker may not declare a versioning behaviour)."""
    if version is None:
        return list(workflows)
    return [PINNED_VARIANTS.get(cls, cls) for cls in workflows]
