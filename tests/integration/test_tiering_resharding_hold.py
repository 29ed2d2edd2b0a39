"""Tiering leaves a region's shard rows alone while the region is being re-sharded: the migration
copies and compares those rows, so a demotion or expiry batch there changes nothing and says why,
and works again once the route is stable."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.tiering import TieringActivities
from activities.tiering_models import DemoteBatchInput, DemotionStep, ExpireBatchInput
from ledger.ring import shard_of
from ledger.tier_config import TenantPolicy
from storage.dedup import DedupStore, Phase, migrate_region
from storage.tiering.demotion_rows import START
from tests.conftest import RunningStack
from tests.integration.objectstore_support import open_fresh_store
from tests.integration.test_dedup_helpers import advance_store, fresh_region
from tests.integration.test_tiering_retention import (
    AS_OF_MS,
    RETENTION_DAYS,
    signed,
    with_tenant_policy,
)
from tests.integration.tiering_support import OneRegion
from tests.support.tenants import tenant

pytestmark = pytest.mark.timeout(120)


async def test_demotion_and_expiry_hold_while_the_region_re_shards(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    region = await fresh_region(running_stack, "tier_hold")
    await migrate_region(region)
    owner = tenant(f"t-{uuid.uuid4().hex[:12]}")
    settings = with_tenant_policy(
        running_stack.settings, owner, TenantPolicy(retention_days=RETENTION_DAYS)
    )
    # Old enough to leave hot (7 days) and to expire (30); three on each shard.
    ids = [f"e{i}" for i in range(100)]
    on = {s: [e for e in ids if shard_of(owner.tenant_id, e, 2) == s][:3] for s in (0, 1)}
    records = [signed(owner, e, 40, seq=n + 1) for n, e in enumerate(on[0] + on[1])]
    demote = DemoteBatchInput(
        tenant=owner.tenant_id,
        region="us",
        shard=0,
        step=DemotionStep.WARM,
        after=START,
        as_of_ms=AS_OF_MS,
    )
    expire = ExpireBatchInput(
        tenant=owner.tenant_id, region="us", shard=1, after=START, as_of_ms=AS_OF_MS
    )
    async with await DedupStore.open(region) as dedup:
        await dedup.apply(records)
        before = await dedup.dump_digest()
        activities = TieringActivities(
            settings, OneRegion(dedup, open_fresh_store("s3", running_stack, tmp_path))
        )

        await advance_store(dedup, 1, Phase.COPY, next_ring_size=1)
        held = await ActivityEnvironment().run(activities.demote_batch, demote)
        expiry = await ActivityEnvironment().run(activities.expire_batch, expire)

        assert (held.resharding, held.read, held.next_after) == ("re-sharding (copy)", 0, None)
        assert (expiry.resharding, expiry.winners, expiry.horizon_hlc) == (
            "re-sharding (copy)",
            0,
            None,
        )
        assert expiry.next_after is None
        # Nothing expired, and every body is still hot (the dump does not show tiers).
        assert await dedup.dump_digest() == before
        hot = "SELECT count(*) FROM dedup_events WHERE tenant_id = $1 AND body_tier = 0"
        assert await dedup.pools.shards[0].fetchval(hot, owner.tenant_id) == 3

        await advance_store(dedup, 2, Phase.STABLE, next_ring_size=1)
        moved = await ActivityEnvironment().run(activities.demote_batch, demote)
        expired = await ActivityEnvironment().run(activities.expire_batch, expire)

        assert moved.resharding is None and expired.resharding is None
        assert moved.moved == 3 and expired.winners == 3
