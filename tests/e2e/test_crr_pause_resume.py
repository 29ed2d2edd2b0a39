"""Pausing CRR holds replication back: records ingested while paused stay in their own region (not
shipped, not applied elsewhere) until `resume`, after which both regions converge to the same
dedup state with nothing lost and nothing applied twice."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import pytest
from temporalio.client import Client

from ledger.config import Settings
from ledger.manifest import parse_manifest
from storage.crr.naming import manifests_prefix
from storage.dedup.store import DedupStore
from storage.objectstore import open_object_store
from tests.conftest import RunningStack
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from workers.crr_control import crr_statuses, crr_workflows, signal_crr, start_crr

ACME = tenant("acme")
# Longer than a segment's seal age (wal.max_segment_age_s) plus a ship and a replay poll
# (crr.poll_interval_s) with room to spare: had pausing not held them back, the new seqs would
# have been applied by then.
PAUSED_OBSERVATION_S = 4.0
SELECT_WINNERS = "SELECT event_id FROM dedup_events"
SELECT_COPIES = "SELECT event_id FROM dedup_copies"


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crr_pause")
    await register(settings, ACME)
    return settings


class Sent:
    """Which regions each key was sent to, and each stream's highest acknowledged seq."""

    def __init__(self) -> None:
        self.regions: dict[str, set[str]] = defaultdict(set)
        self.last_seq: dict[str, int] = {}

    async def round(self, cluster: Cluster, label: str) -> dict[str, int]:
        """Keys only one region gets, and keys both get (same content, and different content);
        returns each stream's last seq after the round."""
        for region in ("us", "eu"):
            events = [ACME.event(f"{label}-{region}-{i}", {"i": i}) for i in range(15)]
            events += [ACME.event(f"{label}-same-{i}", {"i": i}) for i in range(3)]
            events += [ACME.event(f"{label}-rival-{i}", {"side": region}) for i in range(3)]
            results = await cluster.post(region, events)
            assert {r["status"] for r in results} == {"accepted"}, results
            for event in events:
                self.regions[event["event_id"]].add(region)
            self.last_seq[f"{region}/n1"] = max(r["seq"] for r in results)
        return dict(self.last_seq)


async def applied_positions(settings: Settings) -> dict[tuple[str, str], int]:
    """(region, stream) -> the stream's applied position in the region."""
    positions: dict[tuple[str, str], int] = {}
    for region in settings.regions:
        store = await DedupStore.open(settings.region(region))
        try:
            for stream, seq in (await store.applied_positions()).items():
                positions[(region, stream)] = seq
        finally:
            await store.close()
    return positions


async def wait_converged(
    settings: Settings, streams: dict[str, int], timeout_s: float = 60
) -> None:
    """Until every region has applied every stream through the given seqs."""
    deadline = time.monotonic() + timeout_s
    while True:
        positions = await applied_positions(settings)
        behind = {
            (region, stream): positions.get((region, stream), 0)
            for region in settings.regions
            for stream, last in streams.items()
            if positions.get((region, stream), 0) < last
        }
        if not behind:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not converged after {timeout_s}s: behind {behind}")
        await asyncio.sleep(0.3)


async def wait_paused(client: Client, settings: Settings, paused: bool) -> None:
    """Until every CRR workflow's status query reports `paused` (the signal was handled)."""
    deadline = time.monotonic() + 20
    while True:
        statuses = await crr_statuses(client, settings)
        if all(s is not None and s.paused == paused for s in statuses.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"expected every CRR workflow paused={paused}, got {statuses}")
        await asyncio.sleep(0.2)


async def last_manifest_seq(settings: Settings, region: str, stream: str) -> int:
    store = open_object_store(settings.region(region).object_store)
    keys = [info.key async for info in store.list(prefix=manifests_prefix(stream))]
    return parse_manifest(await store.get(keys[-1])).last_seq if keys else 0


async def region_rows(settings: Settings, region: str) -> tuple[list[str], list[str], str]:
    """Every winner's and copy's event id (all shards), and the region's dump digest."""
    store = await DedupStore.open(settings.region(region))
    try:
        shards = store.pools.shards
        winners = [row[0] for pool in shards for row in await pool.fetch(SELECT_WINNERS)]
        copies = [row[0] for pool in shards for row in await pool.fetch(SELECT_COPIES)]
        return sorted(winners), sorted(copies), await store.dump_digest_total()
    finally:
        await store.close()


async def test_paused_crr_holds_new_seqs_back_until_resumed(settings: Settings) -> None:
    sent = Sent()
    every_workflow = sorted(ref.workflow_id for ref in crr_workflows(settings))
    async with running_cluster(settings) as cluster:
        before = await sent.round(cluster, "before")
        await start_crr(cluster.client, settings)
        await wait_converged(settings, before)

        assert sorted(await signal_crr(cluster.client, settings, "pause")) == every_workflow
        await wait_paused(cluster.client, settings, paused=True)
        during = await sent.round(cluster, "paused")
        await asyncio.sleep(PAUSED_OBSERVATION_S)

        positions = await applied_positions(settings)
        for stream, own_region in (("us/n1", "us"), ("eu/n1", "eu")):
            other = "eu" if own_region == "us" else "us"
            # Applied where it was ingested, held back from the other region and unshipped.
            assert positions[(own_region, stream)] == during[stream]
            assert positions[(other, stream)] == before[stream]
            for region in settings.regions:
                assert await last_manifest_seq(settings, region, stream) == before[stream]
        us_store = await DedupStore.open(settings.region("us"))
        try:
            assert await us_store.get_event("acme", "paused-eu-0") is None
            assert await us_store.get_event("acme", "paused-us-0") is not None
        finally:
            await us_store.close()

        assert sorted(await signal_crr(cluster.client, settings, "resume")) == every_workflow
        await wait_paused(cluster.client, settings, paused=False)
        await wait_converged(settings, during)

        # Restarting every CRR workflow from scratch resumes from the stores' watermarks: the
        # counts below show nothing was shipped or applied twice.
        assert sorted(await start_crr(cluster.client, settings, restart=True)) == every_workflow
        after = await sent.round(cluster, "restarted")
        await wait_converged(settings, after)

    us_winners, us_copies, us_digest = await region_rows(settings, "us")
    eu_winners, eu_copies, eu_digest = await region_rows(settings, "eu")
    assert us_digest == eu_digest
    # One winner per distinct key (nothing lost), one copy per key sent to both regions: the
    # other origin's record, once (nothing applied twice).
    for winners, copies in ((us_winners, us_copies), (eu_winners, eu_copies)):
        assert winners == sorted(sent.regions)
        assert copies == sorted(key for key, regions in sent.regions.items() if len(regions) == 2)
