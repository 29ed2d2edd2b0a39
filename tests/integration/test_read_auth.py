"""Authenticated reads on the real stack (a node on real Postgres, keys in the real registry):
`GET /v1/events/...` needs a signature by a registered, unrevoked key of the tenant; anything
else is 401 naming what was wrong, and another tenant's valid signature is an unknown event."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from api.ingest.app import create_app
from api.ingest.serve import open_node
from geoledger_sdk import AsyncClient, EventNotFoundError, Signer
from ledger.config import Settings
from ledger.read_signing import authorization_header, parse_authorization
from storage.keys import KeyRegistry
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import body, register, tenant

ACME = tenant("acme")
GLOBEX = tenant("globex")
MALLORY = tenant("mallory")  # never registered
REVOKED = tenant("revoked")  # registered, then revoked before any read
PATH = "/v1/events/acme/secret-1"
MAX_SKEW_S = 300  # [reads] max_skew_s's default


@pytest.fixture(scope="module")
async def http(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    settings = await isolated_settings(running_stack, tmp_path_factory.mktemp("reads"), "reads")
    await register(settings, ACME, GLOBEX, REVOKED)
    await _revoke(settings, REVOKED.key_id)
    app = create_app(lambda: open_node(settings, "us", "n1"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as http,
    ):
        answer = await http.post("/v1/events", content=body([ACME.event("secret-1")]))
        assert answer.json()["results"][0]["status"] == "accepted", answer.text
        yield http


async def _revoke(settings: Settings, key_id: str) -> None:
    registry = await KeyRegistry.open(settings)
    try:
        await registry.revoke(key_id)
    finally:
        await registry.close()


async def refused(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> str:
    """The `detail` of the 401 the read is answered with."""
    answer = await http.get(path, headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.headers["WWW-Authenticate"].startswith("GEOLEDGER-ED25519 ")
    error = answer.json()["error"]
    assert error["code"] == "unauthenticated"
    detail: str = error["detail"]
    return detail


async def test_own_signature_reads_the_event(http: httpx.AsyncClient) -> None:
    answer = await http.get(PATH, headers=ACME.read_headers(PATH))
    assert answer.status_code == 200, answer.text
    assert answer.json()["event"] == ACME.event("secret-1")


async def test_unsigned_and_malformed_reads_are_401(http: httpx.AsyncClient) -> None:
    assert await refused(http, PATH, {}) == "missing_credential"
    signed = ACME.read_headers(PATH)["authorization"]
    for malformed in (
        "Bearer abc",
        signed.replace("GEOLEDGER-ED25519", "GEOLEDGER-ED25519X"),
        signed.replace(", ts=", ", when="),
        signed[:-2],  # a signature of 84 characters
    ):
        assert await refused(http, PATH, {"authorization": malformed}) == "malformed_credential"


async def test_tampered_path_ts_or_signature_is_401(http: httpx.AsyncClient) -> None:
    credential = parse_authorization(ACME.read_headers(PATH)["authorization"])
    other_path = "/v1/events/acme/secret-2"
    assert await refused(http, other_path, ACME.read_headers(PATH)) == "bad_signature"
    later = ACME.read_headers(PATH)["authorization"].replace(
        f"ts={credential.ts}", f"ts={credential.ts + 1}"
    )
    assert await refused(http, PATH, {"authorization": later}) == "bad_signature"
    flipped = bytearray(credential.signature)
    flipped[0] ^= 1
    tampered = authorization_header(credential.key_id, credential.ts, bytes(flipped))
    assert await refused(http, PATH, {"authorization": tampered}) == "bad_signature"


async def test_a_timestamp_outside_the_window_is_401_either_way(http: httpx.AsyncClient) -> None:
    now = int(time.time())
    for ts in (now - MAX_SKEW_S - 5, now + MAX_SKEW_S + 5):
        assert await refused(http, PATH, ACME.read_headers(PATH, ts)) == "stale_timestamp"
    inside = await http.get(PATH, headers=ACME.read_headers(PATH, now - MAX_SKEW_S + 30))
    assert inside.status_code == 200, inside.text


async def test_unknown_and_revoked_keys_are_401(http: httpx.AsyncClient) -> None:
    assert await refused(http, PATH, MALLORY.read_headers(PATH)) == "unknown_key"
    assert await refused(http, PATH, REVOKED.read_headers(PATH)) == "revoked_key"


async def test_another_tenants_signature_reads_as_an_unknown_event(
    http: httpx.AsyncClient,
) -> None:
    existing = await http.get(PATH, headers=GLOBEX.read_headers(PATH))
    missing_path = "/v1/events/acme/secret-9"
    missing = await http.get(missing_path, headers=ACME.read_headers(missing_path))
    assert (existing.status_code, missing.status_code) == (404, 404)
    assert existing.content == missing.content.replace(b"secret-9", b"secret-1")
    assert existing.headers["content-type"] == missing.headers["content-type"]


async def test_the_python_sdk_signs_what_the_node_verifies(http: httpx.AsyncClient) -> None:
    own = AsyncClient("http://node", http_client=http, signer=Signer(ACME.private_key, "acme"))
    assert (await own.get_event("acme", "secret-1"))["event"] == ACME.event("secret-1")
    other = AsyncClient("http://node", http_client=http, signer=Signer(GLOBEX.private_key, "x"))
    with pytest.raises(EventNotFoundError):
        await other.get_event("acme", "secret-1")
