"""What each task queue runs: its workflows, the activities they call, and the background tasks
and resources the worker process owns for them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from activities import canary
from activities.audit import AuditActivities
from activities.geo import GeoActivities
from activities.migrate import MigrateActivities
from activities.region_resources import RegionResources
from activities.replay import ReplayActivities
from activities.ship import ShipActivities
from activities.smoke import SmokeActivities
from activities.store_repair import StoreRepairActivities
from activities.tier_restore import RestoreActivities
from activities.tiering import TieringActivities
from ledger.config import Settings
from workers.audit_sampler import AuditSampler
from workers.dp_sampler import DpSampler
from workers.lag_monitor import LagMonitor
from workers.migrate_sampler import MigrateSampler
from workers.tier_sampler import TierSampler
from workflows import queues
from workflows.audit_anchor import AnchorLogWorkflow
from workflows.audit_segment import AuditSegmentWorkflow
from workflows.canary import CanaryWorkflow
from workflows.dedup_migration import DedupMigrationWorkflow
from workflows.demotion import DemotionWorkflow
from workflows.geo_divergence import GeoDivergenceWorkflow
from workflows.replay_wal import ReplayWalWorkflow
from workflows.restore import RestoreWorkflow
from workflows.ship_wal import ShipWalWorkflow
from workflows.smoke import SmokeWorkflow

CANARY_ACTIVITIES = (canary.set_ramp, canary.analyze, canary.roll_back)


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class QueueRegistration:
    workflows: Sequence[type]
    activities: Sequence[Callable[..., Any]]
    # Started with the worker (metric exporters); each returns when cancelled.
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=tuple)
    close: Callable[[], Awaitable[None]] = _nothing


def registration_for(queue: str, settings: Settings) -> QueueRegistration:
    """The workflows and activities a worker on `queue` registers.

    Raises `KeyError` naming the known queues when `queue` is not one of ours.
    """
    if queue == queues.OPS:
        smoke = SmokeActivities(settings)
        # The tier, audit and re-sharding gauges are sampled here, not beside the pipelines they
        # watch: see workers/tier_sampler.py, workers/audit_sampler.py, workers/migrate_sampler.py.
        resources = RegionResources(settings)
        sampler = TierSampler(settings, resources)
        audit_sampler = AuditSampler(settings, resources)
        migrate_sampler = MigrateSampler(settings, resources)
        return QueueRegistration(
            # The canary's activities export canary_step and canary_rollbacks_total here.
            workflows=[SmokeWorkflow, CanaryWorkflow],
            activities=[smoke.object_round_trip, *CANARY_ACTIVITIES],
            background=[
                sampler.run,
                audit_sampler.run,
                migrate_sampler.run,
                DpSampler(settings).run,
            ],
            close=resources.close,
        )
    if queue == queues.CRR:
        # Replay applies to the dedup shards: its stores follow re-sharding as writer nodes.
        resources = RegionResources(settings, writer=True)
        replay = ReplayActivities(settings, resources)
        geo = GeoActivities(settings, resources)
        return QueueRegistration(
            workflows=[ShipWalWorkflow, ReplayWalWorkflow, GeoDivergenceWorkflow],
            activities=[
                replay.replay_position,
                replay.replay_run,
                replay.list_manifests,
                replay.apply_segment,
                geo.watermarks,
                geo.fingerprints,
                geo.exact_diff,
                geo.write_report,
            ],
            close=resources.close,
        )
    if queue == queues.TIERING:
        # Demotion and expiry change shard rows: writer nodes too.
        resources = RegionResources(settings, writer=True)
        tiering = TieringActivities(settings, resources)
        restores = RestoreActivities(resources)
        return QueueRegistration(
            workflows=[DemotionWorkflow, RestoreWorkflow],
            activities=[
                tiering.plan,
                tiering.demote_batch,
                tiering.expire_batch,
                restores.request,
                restores.wait,
            ],
            close=resources.close,
        )
    if queue == queues.AUDIT:
        resources = RegionResources(settings)
        audit = AuditActivities(settings, resources)
        return QueueRegistration(
            workflows=[AnchorLogWorkflow, AuditSegmentWorkflow],
            activities=[
                audit.discover,
                audit.enrich_worm,
                audit.anchor_batch,
                audit.attest_external,
                audit.dlq_record,
            ],
            close=resources.close,
        )
    if queue == queues.MIGRATE:
        resources = RegionResources(settings)
        migrate = MigrateActivities(settings, resources)
        return QueueRegistration(
            workflows=[DedupMigrationWorkflow],
            activities=[
                migrate.begin,
                migrate.advance,
                migrate.acks,
                migrate.pair_run,
                migrate.cleanup,
                migrate.seal,
                migrate.clear,
                migrate.finish,
            ],
            close=resources.close,
        )
    node = _node_of(queue, settings)
    if node is not None:
        region, node_name = node
        resources = RegionResources(settings)
        ship = ShipActivities(settings, region, node_name, resources)
        monitor = LagMonitor(settings, region, node_name, resources)
        store_audit = StoreRepairActivities(settings, region, node_name)
        return QueueRegistration(
            workflows=[],
            activities=[
                ship.ship_run,
                ship.list_sealed_segments,
                ship.ship_segment,
                ship.commit_manifest,
                ship.read_watermark,
                store_audit.repair_store,
            ],
            background=[monitor.run],
            close=resources.close,
        )
    known = [*queues.SHARED_QUEUES, *(_node_queues(settings))]
    raise KeyError(f"unknown task queue {queue!r}; known: {', '.join(known)}")


def _node_queues(settings: Settings) -> list[str]:
    return [
        queues.node_queue(region, node.name)
        for region, config in settings.regions.items()
        for node in config.nodes
    ]


def _node_of(queue: str, settings: Settings) -> tuple[str, str] | None:
    for region, config in settings.regions.items():
        for node in config.nodes:
            if queues.node_queue(region, node.name) == queue:
                return region, node.name
    return None
