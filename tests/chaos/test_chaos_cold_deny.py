"""Cold bucket deny: region us's object store, the cold tier of its demoted bodies, refuses every
connection (its toxiproxy disabled) while the ingest node is asked for cold events. Those reads
answer 503 with Retry-After, hot ones keep being served, and ColdTierErrors fires in a real
Prometheus; once the store answers again the cold events read back, and both regions converge
holding every acknowledged event.

ColdTierErrors is `rate(cold_driver_errors_total[5m]) > 0`: it clears five minutes after the last
error, a window the chaos suite leaves as it is. So `make test` checks that it fires and the slow
variant (`make soak`) also waits for it to clear."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from storage.dedup.store import DedupStore
from storage.objectstore import open_object_store
from tests.chaos.conftest import wait_for_clear
from tests.conftest import RunningStack
from tests.integration.tiering_support import make_cold, stored_record
from tests.support.chaos_artifacts import ChaosArtifacts
from tests.support.chaos_run import chaos_run
from tests.support.chaos_system import ChaosSystem, post, running_load, settle
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from tests.support.toxiproxy import Toxiproxy, proxied_object_stores, store_proxy

pytestmark = pytest.mark.timeout(600)

ACME = tenant("acme")
REGION = "us"
COLD_EVENTS = 6
HOT_EVENTS = 2
# ColdTierErrors' `for:` (10m) becomes 10 s.
FIRE_TIMEOUT_S = 60
# The rate's 5m window must have no error left in it.
CLEAR_TIMEOUT_S = 420
CONVERGE_TIMEOUT_S = 120
READ_PAUSE_S = 0.5
COLD_ALERT = {"op": "read", "reason": "unavailable"}
EXISTS = "SELECT 1 FROM dedup_events WHERE tenant_id = $1 AND event_id = $2"


async def demote_to_cold(system: ChaosSystem, event_ids: list[str]) -> None:
    """The events' bodies moved into packs of the region's object store (one per shard)."""
    region = system.settings.region(REGION)
    store = open_object_store(region.object_store)
    async with await DedupStore.open(region) as dedup:
        by_shard = defaultdict(list)
        for event_id in event_ids:
            for shard in dedup.pools.shards:
                if await shard.fetchval(EXISTS, ACME.tenant_id, event_id):
                    by_shard[shard].append(await stored_record(shard, ACME.tenant_id, event_id))
        for shard, records in by_shard.items():
            await make_cold(shard, store, records)


async def read(system: ChaosSystem, event_id: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=system.ingest[REGION].base_url, timeout=10) as client:
        path = f"/v1/events/{ACME.tenant_id}/{event_id}"
        return await client.get(path, headers=ACME.read_headers(path))


@wait_for_clear
async def test_refused_cold_store_fires_cold_tier_errors_and_reads_recover(
    running_stack: RunningStack,
    tmp_path: Path,
    chaos_artifacts: ChaosArtifacts,
    toxiproxy: Toxiproxy,
    wait_for_clear: bool,
) -> None:
    settings = await isolated_settings(running_stack, tmp_path, "chaos_cold")
    await register(settings, ACME)
    settings = await proxied_object_stores(settings, toxiproxy)
    async with chaos_run(settings, running_stack.config_path, chaos_artifacts, tmp_path) as run:
        system, prometheus, acked = run.system, run.prometheus, run.acked
        events = [ACME.event(f"cold-{i}", {"i": i}) for i in range(COLD_EVENTS + HOT_EVENTS)]
        answer = await post(system, acked, REGION, events)
        assert answer is not None and answer.status_code == 200, answer
        cold = [e["event_id"] for e in events[:COLD_EVENTS]]
        hot = [e["event_id"] for e in events[COLD_EVENTS:]]
        await demote_to_cold(system, cold)

        async with running_load(system, acked, ACME, "cold"):
            await toxiproxy.set_enabled(store_proxy(REGION), False)
            refused = 0
            while not await prometheus.watch.firing("ColdTierErrors", COLD_ALERT):
                answer = await read(system, cold[refused % COLD_EVENTS])
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"], answer.headers
                refused += 1
                assert refused * READ_PAUSE_S < FIRE_TIMEOUT_S, prometheus.watch.timeline
                await asyncio.sleep(READ_PAUSE_S)
            for event_id in hot:
                assert (await read(system, event_id)).status_code == 200
            await chaos_artifacts.snapshot_metrics("fault", system.metric_addresses())
            await toxiproxy.set_enabled(store_proxy(REGION), True)

            for event in events[:COLD_EVENTS]:
                answer = await read(system, event["event_id"])
                assert answer.status_code == 200, answer.text
                assert answer.json()["event"] == event, event["event_id"]
        if wait_for_clear:
            await prometheus.watch.wait_gone("ColdTierErrors", COLD_ALERT, CLEAR_TIMEOUT_S)
        await settle(system, acked, CONVERGE_TIMEOUT_S)
