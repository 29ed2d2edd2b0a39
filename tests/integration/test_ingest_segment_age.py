"""A node seals its open segment at the configured `wal.max_segment_age_s`: the floor of
replication lag is a setting, not a constant."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from api.ingest.app import create_app
from api.ingest.serve import open_node
from ledger.config import WalConfig
from storage.wal import sealed_segments_after, stream_directory
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import body, register, tenant

ACME = tenant("acme")


async def _sealed_at(wal: Path, deadline: float) -> float:
    """When the first sealed segment appeared (a file rename: nothing to wait on but the disk)."""
    for _ in range(1000):
        if sealed_segments_after(wal, 0) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    return time.monotonic()


@pytest.mark.parametrize("age_s", [0.1, 2.0])
async def test_the_open_segment_is_sealed_at_the_configured_age(
    running_stack: RunningStack, tmp_path: Path, age_s: float
) -> None:
    settings = await isolated_settings(running_stack, tmp_path, "segage")
    settings = settings.model_copy(update={"wal": WalConfig(max_segment_age_s=age_s)})
    await register(settings, ACME)
    app = create_app(lambda: open_node(settings, "us", "n1"))
    wal = stream_directory(Path(settings.region("us").wal_dir), "us/n1")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client,
    ):
        sent = time.monotonic()
        answer = await client.post("/v1/events", content=body([ACME.event("evt-1")]))
        assert answer.status_code == 200, answer.text
        acked = time.monotonic()
        sealed = await _sealed_at(wal, deadline=acked + 5)
    # The segment opened between sending and the acknowledgement: never sealed before its age,
    # and sealed at its age give or take scheduling on a busy machine.
    assert sealed_segments_after(wal, 0), f"nothing sealed within 5 s (age {age_s} s)"
    assert sealed - sent >= age_s
    assert sealed - acked <= age_s + 1.0
