"""An idle stream writes no objects: an open segment with no records is never sealed, so once a
little traffic has shipped, nodes and CRR workers that keep running add no sealed segment to the
WAL and no segment or manifest to any store (ARCHITECTURE §3 "WAL")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ledger.config import Settings
from storage.crr.naming import manifests_prefix
from storage.objectstore import open_object_store
from storage.wal import list_segments, stream_directory
from tests.conftest import RunningStack
from tests.e2e.test_crr_lag_and_continue_as_new import eventually
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from workers.crr_control import start_crr
from workflows.replay_wal import ReplayStatus, replay_workflow_id
from workflows.ship_wal import ShipStatus, ship_workflow_id

ACME = tenant("acme")
# Idle for this many segment ages (each would seal a segment if idle streams sealed) and at least
# this long (many listing polls at every interval, several of the CRR workers' own timers).
IDLE_SEGMENT_AGES = 12
IDLE_AT_LEAST_S = 3.0


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crridle")
    await register(settings, ACME)
    return settings


async def stored_keys(settings: Settings) -> dict[str, list[str]]:
    """Every object key in each region's store (the test's private prefix)."""
    keys: dict[str, list[str]] = {}
    for name, region in settings.regions.items():
        store = open_object_store(region.object_store)
        keys[name] = [info.key async for info in store.list()]
    return keys


def wal_files(settings: Settings) -> dict[str, list[str]]:
    """The segment files of each region's node, sealed or open."""
    files: dict[str, list[str]] = {}
    for name, region in settings.regions.items():
        stream = f"{name}/{region.nodes[0].name}"
        directory = stream_directory(Path(region.wal_dir), stream)
        files[stream] = [info.path.name for info in list_segments(directory)]
    return files


async def ingest_and_replicate(cluster: Cluster) -> None:
    """A few events into every region, then wait until each is applied in every other region."""
    last_seq: dict[str, int] = {}
    for name in cluster.settings.regions:
        events = [ACME.event(f"{name}-idle-{i}", {"i": i}) for i in range(5)]
        results = await cluster.post(name, events)
        assert {r["status"] for r in results} == {"accepted"}, results
        last_seq[name] = max(int(r["seq"]) for r in results)

    async def replicated() -> bool:
        for source, config in cluster.settings.regions.items():
            node = config.nodes[0].name
            # Shipped: committed in every ship target, not only in the one a replayer reads.
            ship = cluster.client.get_workflow_handle(ship_workflow_id(source, node))
            shipped = await ship.query("status", result_type=ShipStatus)
            if shipped.state.last_seq < last_seq[source]:
                return False
            for into in cluster.settings.regions:
                if into == source:
                    continue
                handle = cluster.client.get_workflow_handle(replay_workflow_id(source, node, into))
                status = await handle.query("status", result_type=ReplayStatus)
                if status.state.applied_seq < last_seq[source]:
                    return False
        return True

    await eventually(replicated, f"every region replayed the others through {last_seq}")


async def test_an_idle_stream_writes_no_objects(settings: Settings) -> None:
    async with running_cluster(settings) as cluster:
        await start_crr(cluster.client, settings)
        await ingest_and_replicate(cluster)
        wal_before, keys_before = wal_files(settings), await stored_keys(settings)
        # The traffic shipped: each stream's segment and manifest is in every store.
        assert all(any(name.endswith(".seg") for name in f) for f in wal_before.values())
        for keys in keys_before.values():
            for stream in wal_before:
                assert any(key.startswith(manifests_prefix(stream)) for key in keys), keys

        idle_s = max(IDLE_AT_LEAST_S, IDLE_SEGMENT_AGES * settings.wal.max_segment_age_s)
        await asyncio.sleep(idle_s)

        assert wal_files(settings) == wal_before
        assert await stored_keys(settings) == keys_before
