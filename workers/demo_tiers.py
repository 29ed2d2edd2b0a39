"""The tiering chapter of `geoledger demo`: demotions of the demo tenant on a clock set days
ahead (so bodies accepted a minute ago are past their TTLs without waiting for them), the
tenant's `tier-demote-<tenant>` schedule, and its `geoledger tier status`."""

from __future__ import annotations

import time
from datetime import timedelta

import asyncpg
from temporalio.client import Client

from ledger.config import Settings
from ledger.tier_policy import TierPolicy, TierPolicyOverride, merge_policy
from storage.tiering.policy_store import set_fields
from workers.tier_demote import start_demotion
from workers.tier_schedule import ensure_tier_schedule
from workers.tier_status import TierStatus, tier_status
from workflows import queues
from workflows.demotion import DemotionStatus

DAY_MS = 86_400_000
SCHEDULE_EVERY = timedelta(hours=1)


async def compress_bodies(settings: Settings, tenant: str) -> None:
    """Override the tenant's policy in every region to compress what it demotes (zstd), as
    `geoledger tier policy set --tenant T --compression` would."""
    for region in settings.regions.values():
        conn = await asyncpg.connect(region.control_dsn)
        try:
            await set_fields(conn, tenant, TierPolicyOverride(compression=True))
        finally:
            await conn.close()


def file_policy(settings: Settings, tenant: str) -> TierPolicy:
    """The tenant's policy as geoledger.toml sets it ([tiering], then [tenants.<tenant>])."""
    policy, _ = merge_policy(settings.tiering, settings.tenants.get(tenant))
    return policy


def now_ms() -> int:
    return int(time.time() * 1000)


def past_hot_ttl_ms(policy: TierPolicy) -> int:
    """A clock by which every body accepted until now has left hot and none has left warm."""
    return now_ms() + (policy.hot_ttl_days + 1) * DAY_MS


def past_warm_ttl_ms(policy: TierPolicy) -> int:
    """A clock by which every body accepted until now belongs in cold."""
    return now_ms() + (policy.warm_ttl_days + 1) * DAY_MS


async def demote(client: Client, settings: Settings, tenant: str, as_of_ms: int) -> DemotionStatus:
    """One DemotionWorkflow of `tenant` (`tier-demote-<tenant>`) on the tiering queue, TTLs
    counted to `as_of_ms`; its final status. Raises the client's errors as they come."""
    handle = await start_demotion(
        client, tenant, as_of_ms, settings.tier_demotion.bytes_per_s, queues.TIERING
    )
    status: DemotionStatus = await handle.result()
    return status


async def schedule_demotion(client: Client, settings: Settings, tenant: str) -> bool:
    """The tenant's schedule, every SCHEDULE_EVERY; True when created (False: updated)."""
    return await ensure_tier_schedule(
        client, tenant, SCHEDULE_EVERY, settings.tier_demotion.bytes_per_s, queues.TIERING
    )


async def status_of(client: Client, settings: Settings, tenant: str) -> TierStatus:
    """What `geoledger tier status --tenant <tenant>` shows."""
    return await tier_status(settings, client, tenant, now_ms())
