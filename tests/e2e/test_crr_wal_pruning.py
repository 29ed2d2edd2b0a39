"""Pruning through the real pipeline: the nodes' CRR workers (as `worker run` registers them) prune
each node's WAL behind ShipWalWorkflow, and replication, the geo check, the drill and the nodes'
restart carry on as if nothing were deleted - they read the stores and the dedup databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ledger.config import Settings
from storage.wal import list_segments, read_checkpoint, stream_directory
from tests.conftest import RunningStack
from tests.e2e.test_crr_lag_and_continue_as_new import eventually
from tests.e2e.test_crr_two_regions import region_state, wait_converged
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from workers.crr_control import start_crr
from workers.drills.rebuild import rebuild_region
from workers.geo_check import run_geo_check

ACME = tenant("acme")
BATCHES = 6


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crrprune")
    await register(settings, ACME)
    # Pruned as soon as shipped and applied; the age rule has its own unit test.
    wal = settings.wal.model_copy(update={"retain_shipped_s": 0.0})
    return settings.model_copy(update={"wal": wal})


def _wal(settings: Settings, region: str) -> Path:
    return stream_directory(Path(settings.region(region).wal_dir), f"{region}/n1")


async def _ingest(cluster: Cluster, label: str) -> dict[str, int]:
    """BATCHES batches into each region, a segment age apart, so each seals its own segment."""
    last: dict[str, int] = {}
    for batch in range(BATCHES):
        for region in cluster.settings.regions:
            events = [ACME.event(f"{region}-{label}-{batch}-{i}", {"i": i}) for i in range(3)]
            results = await cluster.post(region, events)
            assert {r["status"] for r in results} == {"accepted"}, results
            last[f"{region}/n1"] = max(int(r["seq"]) for r in results)
        await asyncio.sleep(cluster.settings.wal.max_segment_age_s * 2)
    return last


async def test_workers_prune_behind_shipping_and_nothing_needs_what_went(
    settings: Settings,
) -> None:
    async with running_cluster(settings) as cluster:
        last = await _ingest(cluster, "first")
        await start_crr(cluster.client, settings)
        await wait_converged(settings, last)

        async def pruned() -> bool:
            return all(
                read_checkpoint(_wal(settings, r)).first_retained_seq > 1 for r in settings.regions
            )

        # One more round after the first ships: the throttle is 0 s with no retention.
        more = await _ingest(cluster, "second")
        await wait_converged(settings, more)
        await eventually(pruned, "every node's WAL pruned behind shipping", timeout_s=30)
        for region in settings.regions:
            checkpoint = read_checkpoint(_wal(settings, region))
            retained = list_segments(_wal(settings, region))
            assert retained[0].first_seq == checkpoint.first_retained_seq > 1
            assert checkpoint.manifest_sha256 != ""

        us_digest, _ = await region_state(settings, "us")
        eu_digest, _ = await region_state(settings, "eu")
        assert us_digest == eu_digest
        clean = await run_geo_check(cluster.client)
        assert clean.differing_keys == 0

    rebuilt = await rebuild_region(settings, "us")
    assert rebuilt.ok, rebuilt.as_dict()
    assert {s.stream: s.rebuilt_seq for s in rebuilt.streams} == more

    # The nodes restart over their pruned WALs, go on at the next seq, and replicate.
    async with running_cluster(settings) as cluster:
        after = await _ingest(cluster, "third")
        assert all(after[stream] > more[stream] for stream in more)
        await start_crr(cluster.client, settings)
        await wait_converged(settings, after)
