"""The tiering worker as a real process (`geoledger worker run --queue geoledger-tiering`),
SIGKILLed at each crash point of a demotion batch (storage/tiering/demote.py): after the warm
UPDATE, after the pack is written (before any row points at it), after the cold UPDATE. A worker
started again without the crash point picks up the killed batch once its heartbeat timeout is
over, and the demotion completes: every body is cold and reads back verified, the dump digest
(which reads every body through its tier) equals the one taken while all were hot, and every pack
in the store is one that rows point at, no blob of it pointed at twice."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from pathlib import Path

import pytest

from ledger.config import Settings
from storage.dedup import DedupStore
from storage.objectstore import open_object_store
from storage.tiering.demote import (
    CRASH_AFTER_COLD_UPDATE,
    CRASH_AFTER_PACK_WRITTEN,
    CRASH_AFTER_WARM_UPDATE,
)
from storage.tiering.packs import PACKS_PREFIX, pack_key
from storage.tiering.reader import TierReadOptions
from tests.conftest import RunningStack
from tests.integration.test_tiering_demotion import AS_OF_MS, signed_record
from tests.support.isolated import isolated_settings
from tests.support.processes import WORKER_READY, ProcessGroup, geoledger_env
from tests.support.tenants import tenant
from workers.client import connect
from workers.tier_demote import start_demotion
from workflows import queues
from workflows.demotion import DemotionStatus

pytestmark = pytest.mark.timeout(300)

EVENTS = 24
# Several batches per shard, so the killed one is not the last.
BATCH_ROWS = 4
# A killed batch is retried once its heartbeat timeout (30 s) is over.
DEMOTION_TIMEOUT_S = 180
POINTED_AT = """
SELECT cold_pack_id, cold_offset FROM dedup_events WHERE tenant_id = $1 AND body_tier = 2
"""
TIERS = "SELECT body_tier FROM dedup_events WHERE tenant_id = $1"


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    return await isolated_settings(running_stack, tmp_path, "tier_kill")


async def start_tiering_worker(
    group: ProcessGroup, settings: Settings, config_path: Path, crash_at: str | None
) -> None:
    env = geoledger_env(settings, config_path, crash_at)
    env["GEOLEDGER_TIER_DEMOTION__BATCH_ROWS"] = str(BATCH_ROWS)
    process = group.start(
        "worker-tiering", ["worker", "run", "--queue", queues.TIERING, "--metrics-port", "0"], env
    )
    await process.wait_for_log(WORKER_READY)


async def dump_digests(settings: Settings) -> dict[str, str]:
    options = TierReadOptions.from_settings(settings)
    digests = {}
    for name, region in settings.regions.items():
        async with await DedupStore.open(region, tiering=options) as dedup:
            digests[name] = await dedup.dump_digest_total()
    return digests


@pytest.mark.parametrize(
    "crash_at", [CRASH_AFTER_WARM_UPDATE, CRASH_AFTER_PACK_WRITTEN, CRASH_AFTER_COLD_UPDATE]
)
async def test_a_tiering_worker_killed_in_a_batch_loses_and_doubles_nothing(
    running_stack: RunningStack, settings: Settings, tmp_path: Path, crash_at: str
) -> None:
    owner = tenant(f"t-{uuid.uuid4().hex[:12]}")
    records = [signed_record(owner, f"evt-{n:03d}", 365) for n in range(EVENTS)]
    for region in settings.regions.values():
        async with await DedupStore.open(region) as dedup:
            await dedup.apply(records)
    before = await dump_digests(settings)

    client = await connect(settings)
    group = ProcessGroup(tmp_path / "logs")
    try:
        await start_tiering_worker(group, settings, running_stack.config_path, crash_at)
        [armed] = group.processes
        handle = await start_demotion(client, owner.tenant_id, AS_OF_MS, 0, queues.TIERING)
        assert await armed.wait_exit(60) == -signal.SIGKILL, armed.log_tail()

        await start_tiering_worker(group, settings, running_stack.config_path, None)
        status: DemotionStatus = await asyncio.wait_for(handle.result(), DEMOTION_TIMEOUT_S)
    finally:
        group.close()
    assert status.done and status.last_error is None, status

    # The dump reads every body through its tier, verified: nothing lost or changed.
    assert await dump_digests(settings) == before
    for name, region in settings.regions.items():
        store = open_object_store(region.object_store)
        async with await DedupStore.open(region) as dedup:
            shards = dedup.pools.shards
            tiers = [
                row["body_tier"] for s in shards for row in await s.fetch(TIERS, owner.tenant_id)
            ]
            pointed = Counter(
                [
                    (row["cold_pack_id"], row["cold_offset"])
                    for s in shards
                    for row in await s.fetch(POINTED_AT, owner.tenant_id)
                ]
            )
        assert tiers == [2] * EVENTS, name
        # No blob is pointed at twice, and every pack stored is one the rows point at: a pack
        # written again after a kill is the same object (same rows, same content id).
        assert set(pointed.values()) == {1}, name
        prefix = f"{PACKS_PREFIX}/{owner.tenant_id}/"
        stored = sorted([info.key async for info in store.list(prefix=prefix)])
        assert stored == sorted({pack_key(owner.tenant_id, pack) for pack, _ in pointed}), name
        # And each key reads back through the API's path (which promotes it: last).
        options = TierReadOptions.from_settings(settings)
        async with await DedupStore.open(region, tiering=options) as dedup:
            for each in records:
                event = await dedup.get_event(owner.tenant_id, each.event_id)
                assert event is not None and event.event == each.event, (name, each.event_id)
