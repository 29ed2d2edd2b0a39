"""JSON log lines on the real stack: a record made while an ingest request is answered and one
made inside an activity run by a real worker each parse as one JSON object and carry the labels
of where they were made."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from activities.names import SMOKE_OBJECT_ROUND_TRIP
from api.ingest.app import create_app
from api.ingest.serve import open_node
from ledger.config import Settings
from ledger.logging_config import LoggingConfig
from storage.telemetry.json_logs import log_formatter
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import body, register, tenant
from workers.client import connect
from workers.smoke import run_smoke

ACME = tenant("acme")


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path_factory.mktemp("logs"), "logs")
    await register(settings, ACME)
    return settings


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes at DEBUG with `[logging] format = "json"`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter(LoggingConfig(format="json")))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def records_of(stream: io.StringIO, logger: str) -> list[dict[str, Any]]:
    """`logger`'s lines, each parsed on its own: a line that is not one JSON object fails."""
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [record for record in records if record["logger"] == logger]


async def test_a_record_of_an_ingest_request_carries_region_node_and_tenant(
    settings: Settings, json_lines: io.StringIO
) -> None:
    app = create_app(lambda: open_node(settings, "us", "n1"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as http,
    ):
        answer = await http.post("/v1/events", content=body([ACME.event("order-1")]))
    assert answer.status_code == 200, answer.text

    [record] = records_of(json_lines, "geoledger.ingest")
    assert set(record) == {"ts", "level", "logger", "message", "region", "node", "tenant"}
    assert (record["level"], record["message"]) == (
        "DEBUG",
        "batch of 1 events answered: 1 accepted",
    )
    assert (record["region"], record["node"], record["tenant"]) == ("us", "n1", "acme")
    assert record["ts"].endswith("+00:00")


async def test_a_record_of_an_activity_carries_its_workflow_activity_and_region(
    settings: Settings, json_lines: io.StringIO
) -> None:
    client = await connect(settings)
    workflow_id = f"smoke-logs-{uuid.uuid4().hex[:8]}"
    await run_smoke(client, settings, workflow_id, task_queue=f"logs-{uuid.uuid4()}")

    records = records_of(json_lines, "geoledger.smoke")
    assert [record["region"] for record in records] == sorted(settings.regions)
    for record in records:
        assert record["workflow_id"] == workflow_id
        assert record["activity"] == SMOKE_OBJECT_ROUND_TRIP
        assert "node" not in record and "tenant" not in record
