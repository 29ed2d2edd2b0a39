"""Schemathesis against the ops API as `geoledger ops serve` runs it (uvicorn, on the session
stack's PostgreSQL, with a valid operator token): every operation of the committed OpenAPI
document, generated inputs valid and invalid, never a 5xx, every answer within the document
(status, content type, body schema). Examples are bounded so the whole runs in seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.ops.app import create_app
from api.ops.auth import OperatorToken
from api.ops.service import OpsService
from ledger.config import Settings, load_settings
from ledger.stream_id import StreamId
from storage.embedded.process import free_port
from tests.conftest import REPO_ROOT, RunningStack
from tests.integration.ops_support import (
    MIGRATION_ID,
    US_ACME,
    apply_keys,
    ring_of_one,
    start_growing,
)
from tests.support.isolated import fresh_config_file

pytestmark = pytest.mark.timeout(180)

TOKEN = "operator-token-for-fuzzing"
SCHEMA = schemathesis.openapi.from_path(REPO_ROOT / "docs" / "ops-openapi.json")
# Not negative_data_rejection: it counts an unknown query parameter, which HTTP APIs ignore, as
# data to refuse. Invalid inputs are still sent (negative mode), and must still be answered as
# documented; tests/integration/test_ops_api.py asserts which field each 422 names.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
async def fuzz_config(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Fresh regions holding a few keys, eu in the middle of a re-sharding run."""
    config = await fresh_config_file(running_stack, tmp_path_factory.mktemp("opsfuzz"), "opsfuzz")
    loaded = load_settings(config)
    await apply_keys(loaded.region("us"), StreamId("us", "n1"), [("acme", e) for e in US_ACME])
    await ring_of_one(loaded.region("eu"))
    await start_growing(loaded.region("eu"), MIGRATION_ID)
    return loaded


@pytest.fixture(scope="module")
def ops_url(fuzz_config: Settings) -> Iterator[str]:
    """The app served by uvicorn in a thread of its own (its own event loop and pools)."""
    app = create_app(
        OpsService.from_settings(fuzz_config),
        OperatorToken("GEOLEDGER_OPS_TOKEN", TOKEN),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="ops-api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the ops API did not start"
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@SCHEMA.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_within_its_document(ops_url: str, case: schemathesis.Case) -> None:
    case.call_and_validate(
        base_url=ops_url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS
    )


def test_the_served_app_still_refuses_a_request_without_the_token(ops_url: str) -> None:
    assert httpx.get(f"{ops_url}/v1/ops/shards").status_code == 401
