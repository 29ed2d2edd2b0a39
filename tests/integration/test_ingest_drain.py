"""A draining ingest node (the first step of `geoledger ingest retire`), on real Postgres and a
real WAL: writes racing the drain are either acknowledged and sealed, or refused with 503, never
acknowledged into a segment left open; only a caller on the node's own host may drain it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from api.ingest.app import create_app
from api.ingest.serve import open_node
from storage.wal import stream_directory
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import body, register, tenant

ACME = tenant("acme")
WRITERS = 16


async def test_writes_racing_a_drain_end_up_sealed_or_refused(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    settings = await isolated_settings(running_stack, tmp_path, "drain")
    await register(settings, ACME)
    app = create_app(lambda: open_node(settings, "us", "n1"))
    async with app.router.lifespan_context(app):
        remote = httpx.ASGITransport(app=app, client=("10.1.2.3", 4567))
        async with httpx.AsyncClient(transport=remote, base_url="http://node") as outsider:
            assert (await outsider.post("/drain")).status_code == 403
        local = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=local, base_url="http://node") as client:

            async def write(n: int) -> httpx.Response:
                events = [ACME.event(f"w{n}-{i}", {"i": i}) for i in range(20)]
                return await client.post("/v1/events", content=body(events))

            first = [asyncio.create_task(write(n)) for n in range(WRITERS)]
            # The drain must come while writes are past the draining check (verifying, in the WAL).
            for _ in range(10_000):
                if app.state.node._writing:
                    break
                await asyncio.sleep(0.001)
            drain = asyncio.create_task(client.post("/drain"))
            for _ in range(10_000):
                if app.state.node.health()["draining"]:
                    break
                await asyncio.sleep(0.001)
            second = [asyncio.create_task(write(WRITERS + n)) for n in range(WRITERS)]
            drained = await drain
            assert drained.status_code == 200
            last_seq = drained.json()["last_seq"]

            answers = await asyncio.gather(*first)
            assert {a.status_code for a in answers} <= {200, 503}
            acked = [r["seq"] for a in answers if a.status_code == 200 for r in a.json()["results"]]
            refused = await asyncio.gather(*second)
            assert acked and all(a.status_code == 503 and a.headers["Retry-After"] for a in refused)
            # Every acknowledged record is in a sealed segment: nothing is left in an open one.
            assert max(acked) == last_seq
            wal = stream_directory(Path(settings.region("us").wal_dir), "us/n1")
            assert all(p.stat().st_size == 0 for p in wal.glob("*.open"))
            # A second drain finds the same end; reads still work.
            assert (await client.post("/drain")).json()["last_seq"] == last_seq
            read_back = next(a for a in answers if a.status_code == 200).json()["results"][0]
            path = f"/v1/events/acme/{read_back['event_id']}"
            assert (await client.get(path, headers=ACME.read_headers(path))).is_success
