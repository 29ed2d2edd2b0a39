"""The PINNED variants of the long-running workflows, registered instead of them by versioned
workers (workers/deployment.py): each run of a continue-as-new loop or of a long wait stays on
the worker build it started on, so a CRR tailer never continues half its history on other code;
a new build takes them over as they start or continue as new.

Variants rather than `versioning_behavior` on the workflows themselves: the server refuses a
versioning behaviour from an unversioned worker, and unversioned workers (the default) must go on
working as before. Each variant has its workflow's name, so histories and callers do not see the
difference.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from activities.audit_models import AnchorLogInput
    from activities.canary_models import CanaryInput, CanaryStatus
    from activities.migrate_models import MigrationInput, MigrationProgress
    from workflows.audit_anchor import AnchorLogWorkflow
    from workflows.canary import CanaryWorkflow
    from workflows.dedup_migration import DedupMigrationWorkflow
    from workflows.demotion import DemotionInput, DemotionStatus, DemotionWorkflow
    from workflows.replay_wal import ReplayWalInput, ReplayWalWorkflow
    from workflows.ship_wal import ShipWalInput, ShipWalWorkflow

PINNED = VersioningBehavior.PINNED


@workflow.defn(name="ShipWalWorkflow", versioning_behavior=PINNED)
class PinnedShipWalWorkflow(ShipWalWorkflow):
    """ShipWalWorkflow, pinned to its build."""

    @workflow.run
    async def run(self, request: ShipWalInput) -> None:
        """The workflow's own run."""
        await super().run(request)


@workflow.defn(name="ReplayWalWorkflow", versioning_behavior=PINNED)
class PinnedReplayWalWorkflow(ReplayWalWorkflow):
    """ReplayWalWorkflow, pinned to its build."""

    @workflow.run
    async def run(self, request: ReplayWalInput) -> None:
        """The workflow's own run."""
        await super().run(request)


@workflow.defn(name="AnchorLogWorkflow", versioning_behavior=PINNED)
class PinnedAnchorLogWorkflow(AnchorLogWorkflow):
    """AnchorLogWorkflow, pinned to its build."""

    @workflow.run
    async def run(self, request: AnchorLogInput) -> None:
        """The workflow's own run."""
        await super().run(request)


@workflow.defn(name="DemotionWorkflow", versioning_behavior=PINNED)
class PinnedDemotionWorkflow(DemotionWorkflow):
    """DemotionWorkflow, pinned to its build."""

    @workflow.run
    async def run(self, request: DemotionInput) -> DemotionStatus:
        """The workflow's own run."""
        return await super().run(request)


@workflow.defn(name="DedupMigrationWorkflow", versioning_behavior=PINNED)
class PinnedDedupMigrationWorkflow(DedupMigrationWorkflow):
    """DedupMigrationWorkflow, pinned to its build."""

    @workflow.run
    async def run(self, request: MigrationInput) -> MigrationProgress:
        """The workflow's own run."""
        return await super().run(request)


@workflow.defn(name="CanaryWorkflow", versioning_behavior=PINNED)
class PinnedCanaryWorkflow(CanaryWorkflow):
    """CanaryWorkflow, pinned to the build that started it while it moves work to another."""

    @workflow.run
    async def run(self, request: CanaryInput) -> CanaryStatus:
        """The workflow's own run."""
        return await super().run(request)


PINNED_VARIANTS: dict[type, type] = {
    ShipWalWorkflow: PinnedShipWalWorkflow,
    ReplayWalWorkflow: PinnedReplayWalWorkflow,
    AnchorLogWorkflow: PinnedAnchorLogWorkflow,
    DemotionWorkflow: PinnedDemotionWorkflow,
    DedupMigrationWorkflow: PinnedDedupMigrationWorkflow,
    CanaryWorkflow: PinnedCanaryWorkflow,
}
