"""Shard kill: one dedup shard database of region us made unreachable (its DSN reaches Postgres
through a toxiproxy proxy, disabled: connections cut and refused) under load. Batches with keys
on that shard are answered 503 with Retry-After, IngestErrorBudgetBurn fires for us in a real
Prometheus, and batches with keys only on the other shard keep being answered 200 all along: the
node applies each shard's records in a lane of its own (api/ingest/applier.py), so the refusing
shard holds back only its own records and applied position. Once the shard is reachable again
its lane catches up, keys on it are answered again, and both regions converge holding every
acknowledged event.

IngestErrorBudgetBurn compares 5m and 1h failure ratios: it clears minutes after the fault, so
the slow variant (`make soak`) also waits for it to clear."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from ledger.config import Settings
from storage.dedup.store import DedupStore
from tests.chaos.conftest import wait_for_clear
from tests.conftest import RunningStack
from tests.support.chaos_artifacts import ChaosArtifacts
from tests.support.chaos_run import chaos_run
from tests.support.chaos_system import Acknowledged, ChaosSystem, post, running_load, settle
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from tests.support.toxiproxy import Toxiproxy

pytestmark = pytest.mark.timeout(900)

ACME = tenant("acme")
REGION, KILLED_SHARD = "us", 1
SHARD_PROXY = f"shard-{REGION}-{KILLED_SHARD}"
PROBES = 8
FIRE_TIMEOUT_S = 60
CLEAR_TIMEOUT_S = 600
CONVERGE_TIMEOUT_S = 120
BURN_ALERT = {"region": REGION, "trigger": "fast-burn"}


async def with_proxied_shard(settings: Settings, toxiproxy: Toxiproxy) -> Settings:
    region = settings.region(REGION)
    dsns = list(region.shard_dsns)
    parsed = urlparse(dsns[KILLED_SHARD])
    upstream = f"{parsed.hostname}:{parsed.port}"
    listen = await toxiproxy.proxy(SHARD_PROXY, upstream)
    dsns[KILLED_SHARD] = parsed._replace(netloc=parsed.netloc.replace(upstream, listen)).geturl()
    regions = {**settings.regions, REGION: region.model_copy(update={"shard_dsns": dsns})}
    return settings.model_copy(update={"regions": regions})


async def keys_by_shard(settings: Settings, label: str) -> dict[int, list[str]]:
    """PROBES event ids whose every write goes to the killed shard, and PROBES to others only."""
    found: dict[int, list[str]] = {KILLED_SHARD: [], -1: []}
    async with await DedupStore.open(settings.region(REGION)) as dedup:
        n = 0
        while min(len(ids) for ids in found.values()) < PROBES:
            event_id = f"{label}-{n}"
            shards = dedup.route.write_shards(ACME.tenant_id, event_id)
            side = KILLED_SHARD if KILLED_SHARD in shards else -1
            found[side].append(event_id)
            n += 1
    return found


async def probe(system: ChaosSystem, acked: Acknowledged, event_id: str) -> tuple[int, str]:
    """One event alone to the region's node: its HTTP status and Retry-After."""
    answer = await post(system, acked, REGION, [ACME.event(event_id)])
    assert answer is not None, f"{REGION}'s node did not answer"
    return answer.status_code, answer.headers.get("Retry-After", "")


@wait_for_clear
async def test_unreachable_shard_answers_503_fires_and_loses_nothing(
    running_stack: RunningStack,
    tmp_path: Path,
    chaos_artifacts: ChaosArtifacts,
    toxiproxy: Toxiproxy,
    wait_for_clear: bool,
) -> None:
    settings = await isolated_settings(running_stack, tmp_path, "chaos_shard")
    await register(settings, ACME)
    settings = await with_proxied_shard(settings, toxiproxy)
    probes = await keys_by_shard(settings, "probe")
    restored = (await keys_by_shard(settings, "restored"))[KILLED_SHARD][0]
    async with chaos_run(settings, running_stack.config_path, chaos_artifacts, tmp_path) as run:
        system, prometheus, acked = run.system, run.prometheus, run.acked
        async with running_load(system, acked, ACME, "shard"):
            # Answers before the fault: the rule's ratio needs ingest_events_total to exist.
            deadline = time.monotonic() + FIRE_TIMEOUT_S
            while acked.count(REGION) == 0:
                assert time.monotonic() < deadline, acked.answers
                await asyncio.sleep(0.2)
            await toxiproxy.set_enabled(SHARD_PROXY, False)
            on_killed = [await probe(system, acked, e) for e in probes[KILLED_SHARD]]
            assert all(status == 503 and retry for status, retry in on_killed), on_killed
            await prometheus.watch.wait_firing("IngestErrorBudgetBurn", BURN_ALERT, FIRE_TIMEOUT_S)
            on_others = [await probe(system, acked, e) for e in probes[-1]]
            chaos_artifacts.write_json(
                "probes", {"killed_shard": on_killed, "other_shards": on_others}
            )
            await chaos_artifacts.snapshot_metrics("fault", system.metric_addresses())
            assert all(status == 200 for status, _ in on_others), on_others
            await toxiproxy.set_enabled(SHARD_PROXY, True)
            # Keys on the shard are answered again once its lane's retry reaches it.
            deadline = time.monotonic() + CONVERGE_TIMEOUT_S
            while (await probe(system, acked, restored))[0] != 200:
                assert time.monotonic() < deadline, acked.answers
                await asyncio.sleep(0.5)
        if wait_for_clear:
            await prometheus.watch.wait_gone("IngestErrorBudgetBurn", BURN_ALERT, CLEAR_TIMEOUT_S)
        await settle(system, acked, CONVERGE_TIMEOUT_S)
