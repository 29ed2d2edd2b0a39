"""A node leaving a region for good (`geoledger ingest retire`), on the embedded stack: us runs
two nodes, both regions ingest, us/n2 is retired and then removed from the configuration. Every
event it acknowledged is in both regions, its stream is marked retired everywhere, the geo check
finds nothing divergent, and the region runs on without it. A retired stream comes back only
where it left off."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.ingest.app import create_app
from api.ingest.errors import StreamRetired
from api.ingest.serve import open_node
from ledger.config import Settings
from storage.crr.retired import read_retired
from storage.dedup.store import DedupStore
from storage.embedded.process import free_port
from tests.conftest import RunningStack
from tests.e2e.test_crr_two_regions import wait_converged
from tests.support.cluster import crr_workers, terminate_crr
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from workers.client import connect
from workers.crr_control import start_crr
from workers.geo_check import run_geo_check
from workers.node_retire import retire_node
from workers.retired_report import retired_report

ACME = tenant("acme")


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "retire")
    us = settings.region("us")
    second = us.nodes[0].model_copy(update={"name": "n2", "port": free_port()})
    us = us.model_copy(update={"nodes": [*us.nodes, second]})
    settings = settings.model_copy(update={"regions": {**settings.regions, "us": us}})
    await register(settings, ACME)
    return settings


def without_node(settings: Settings, region: str, node: str) -> Settings:
    config = settings.region(region)
    kept = [n for n in config.nodes if n.name != node]
    regions = {**settings.regions, region: config.model_copy(update={"nodes": kept})}
    return settings.model_copy(update={"regions": regions})


@contextlib.asynccontextmanager
async def every_node(settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Each configured node's app, keyed by stream; its ASGI client calls from 127.0.0.1."""
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for region, config in settings.regions.items():
            for node in config.nodes:
                app = create_app(lambda r=region, n=node.name: open_node(settings, r, n))
                await stack.enter_async_context(app.router.lifespan_context(app))
                clients[f"{region}/{node.name}"] = await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url=f"http://{node.name}"
                    )
                )
        yield clients


async def post(client: httpx.AsyncClient, prefix: str, count: int) -> dict[str, int]:
    """Event id -> the seq it was accepted at."""
    events = [ACME.event(f"{prefix}-{i}", {"i": i}) for i in range(count)]
    answer = await client.post("/v1/events", json={"events": events})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert {r["status"] for r in results} == {"accepted"}
    return {r["event_id"]: r["seq"] for r in results}


async def test_a_retired_node_leaves_nothing_behind(settings: Settings, tmp_path: Path) -> None:
    client = await connect(settings)
    async with every_node(settings) as nodes, crr_workers(settings, client):
        try:
            await start_crr(client, settings)
            acked = {
                "us/n1": await post(nodes["us/n1"], "us1", 30),
                "us/n2": await post(nodes["us/n2"], "us2", 40),
                "eu/n1": await post(nodes["eu/n1"], "eu1", 20),
            }
            acked["us/n2"] |= await post(nodes["us/n2"], "us2-late", 5)

            report = await retire_node(settings, "us", "n2", nodes["us/n2"], timeout_s=60)
            assert report.ok, report.as_dict()
            assert report.last_seq == max(acked["us/n2"].values()) == 45
            assert report.committed == {"us": 45, "eu": 45} and report.marked == ["eu", "us"]

            # Drained: writes are refused with a retry hint, readiness fails, liveness holds.
            refused = await nodes["us/n2"].post("/v1/events", json={"events": [ACME.event("x")]})
            assert refused.status_code == 503 and refused.headers["Retry-After"]
            ready = await nodes["us/n2"].get("/healthz")
            assert ready.status_code == 503 and ready.json()["draining"] is True
            assert (await nodes["us/n2"].get("/healthz", params={"probe": "live"})).is_success
            # A second retire (a preStop re-run) finds the same end.
            again = await retire_node(settings, "us", "n2", nodes["us/n2"], timeout_s=60)
            assert again.ok and again.last_seq == 45

            last = {stream: max(seqs.values()) for stream, seqs in acked.items()}
            await wait_converged(settings, last)
            await assert_everywhere(settings, acked["us/n2"])
            [retired] = await retired_report(settings)
            assert (retired.stream, retired.last_seq, retired.complete) == ("us/n2", 45, True)
            for region in settings.regions.values():
                assert (await read_retired(region.control_dsn))["us/n2"].last_seq == 45
            assert (await run_geo_check(client)).differing_keys == 0
        finally:
            await terminate_crr(client, settings)

    # n2 gone from the configuration: the remaining node and the workers restart and go on.
    remaining = without_node(settings, "us", "n2")
    async with every_node(remaining) as nodes, crr_workers(remaining, client):
        try:
            await start_crr(client, remaining)
            later = {"us/n1": await post(nodes["us/n1"], "us1-later", 10)}
            await wait_converged(remaining, {"us/n1": max(later["us/n1"].values())})
            assert (await run_geo_check(client)).differing_keys == 0
        finally:
            await terminate_crr(client, remaining)

    # A node named n2 without the stream's WAL would reuse shipped seqs: it does not start.
    volume_lost = settings.model_copy(
        update={
            "regions": {
                **settings.regions,
                "us": settings.region("us").model_copy(update={"wal_dir": tmp_path / "empty"}),
            }
        }
    )
    with pytest.raises(StreamRetired, match="retired at seq 45"):
        await open_node(volume_lost, "us", "n2")
    # With its WAL kept, n2 continues its stream, which is no longer retired anywhere.
    node = await open_node(settings, "us", "n2")
    await node.close()
    for region in settings.regions.values():
        assert "us/n2" not in await read_retired(region.control_dsn)


async def assert_everywhere(settings: Settings, acked: dict[str, int]) -> None:
    for name in settings.regions:
        async with await DedupStore.open(settings.region(name)) as dedup:
            for event_id, seq in acked.items():
                stored = await dedup.get_event("acme", event_id)
                assert stored is not None, (name, event_id)
                assert (str(stored.origin.stream), stored.origin.seq) == ("us/n2", seq)
