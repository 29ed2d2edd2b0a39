"""The shipper repairs its ship targets when it starts, on the embedded stack: objects deleted from
the us store (S3) and from the eu store (GCS) come back from the other, verified, and
`wal_crr_store_missing_objects` says 0; a peer holding tampered bytes is refused, and the gauge and
the shipper's status say what is still missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ledger.config import Settings
from storage.crr.naming import segment_key
from storage.objectstore import ObjectStore, open_object_store
from tests.conftest import RunningStack
from tests.e2e.test_crr_gaps_and_tampering import eventually, ingest_rounds, shipped_manifests
from tests.support.cluster import running_cluster
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from workers.crr_control import start_crr
from workflows.ship_wal import ShipStatus, ship_workflow_id

ACME = tenant("acme")
STREAM = "us/n1"


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crrrepair")
    await register(settings, ACME)
    return settings.model_copy(update={"crr": settings.crr.model_copy(update={"idle_wait_s": 1.0})})


def missing_gauge(target: str) -> float | None:
    # The node's activities run in this process, so the gauge is in its default registry.
    return REGISTRY.get_sample_value(
        "wal_crr_store_missing_objects", {"region": "us", "target": target}
    )


async def keys(store: ObjectStore) -> list[str]:
    return [info.key async for info in store.list(prefix="wal/us/n1/")]


async def test_the_shipper_repairs_both_stores_at_start_and_refuses_a_tampered_peer(
    settings: Settings,
) -> None:
    stores = {name: open_object_store(settings.region(name).object_store) for name in ("us", "eu")}
    async with running_cluster(settings) as cluster:
        await start_crr(cluster.client, settings)
        rounds = await ingest_rounds(cluster, "repair", 3)
        refs = await shipped_manifests(stores["eu"], rounds[-1].last_seq)
        await shipped_manifests(stores["us"], rounds[-1].last_seq)
        complete = await keys(stores["us"])
        segments = [segment_key(STREAM, ref.first_seq, ref.last_seq) for ref in refs]

        # us loses the first manifest and its segment, eu the last segment.
        await stores["us"].delete(refs[0].key)
        await stores["us"].delete(segments[0])
        await stores["eu"].delete(segments[2])
        await start_crr(cluster.client, settings, "us", restart=True)

        async def repaired() -> bool:
            held = [await keys(store) for store in stores.values()]
            return held == [complete, complete] and missing_gauge("us") == 0

        await eventually(repaired, "both stores complete again and the gauge at 0")
        for key in complete:
            assert await stores["us"].get(key) == await stores["eu"].get(key), key
        assert missing_gauge("eu") == 0

        # A segment missing in us whose only other copy is tampered: refused, reported.
        await stores["us"].delete(segments[1])
        original = await stores["eu"].get(segments[1])
        await stores["eu"].put(segments[1], original[:-1] + bytes([original[-1] ^ 1]))
        await start_crr(cluster.client, settings, "us", restart=True)
        shipper = cluster.client.get_workflow_handle(ship_workflow_id("us", "n1"))

        async def reported() -> bool:
            status = await shipper.query("status", result_type=ShipStatus)
            return bool(status.state.store_problems) and (missing_gauge("us") or 0) >= 1

        await eventually(reported, "the shipper reports the segment it could not repair")
        status = await shipper.query("status", result_type=ShipStatus)
        assert "SHA-256 differs" in status.state.store_problems[0]
        assert not await stores["us"].exists(segments[1])
        await stores["eu"].put(segments[1], original)


async def test_a_running_shipper_repairs_a_store_that_lost_everything(settings: Settings) -> None:
    # An emulator restarted empty under a shipper that keeps running: no new run starts, the
    # periodic audit notices the target's chain starts elsewhere and refills it from seq 1.
    # Idle listings of 5 s keep the run far from continue-as-new (which would audit too).
    crr = settings.crr.model_copy(update={"store_audit_interval_s": 1.0, "idle_wait_s": 5.0})
    settings = settings.model_copy(update={"crr": crr})
    stores = {name: open_object_store(settings.region(name).object_store) for name in ("us", "eu")}
    async with running_cluster(settings) as cluster:
        await start_crr(cluster.client, settings)
        rounds = await ingest_rounds(cluster, "wiped", 2)
        await shipped_manifests(stores["us"], rounds[-1].last_seq)
        await shipped_manifests(stores["eu"], rounds[-1].last_seq)
        shipper = await cluster.client.get_workflow_handle(ship_workflow_id("us", "n1")).describe()
        complete = await keys(stores["eu"])
        for key in await keys(stores["us"]):
            await stores["us"].delete(key)

        async def refilled() -> bool:
            return await keys(stores["us"]) == complete

        await eventually(refilled, "the us store refilled by the running shipper", timeout_s=60)
        for key in complete:
            assert await stores["us"].get(key) == await stores["eu"].get(key), key
        # The same run did it: nothing was restarted.
        again = await cluster.client.get_workflow_handle(ship_workflow_id("us", "n1")).describe()
        assert again.run_id == shipper.run_id
