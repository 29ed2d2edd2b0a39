"""Deprecation / Sunset announcements of the ingest API (RFC 9745, RFC 8594) on a real node: the
headers on every answer of a deprecated version, 410 Gone after its sunset, none for the current
version, and the Python SDK surfacing what it was told."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from api.ingest.app import create_app
from api.ingest.deprecation import DEPRECATIONS, Deprecation, DeprecationMiddleware
from api.ingest.serve import open_node
from geoledger_sdk import AsyncClient, Signer, UnexpectedResponseError
from ledger.config import Settings
from ledger.errors import ConfigError
from storage.dedup.store import DedupStore
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import body, register, signed_read, tenant

pytestmark = pytest.mark.timeout(120)

ACME = tenant("acme")
MIGRATION_NOTES = "https://docs.example.test/geoledger/migrate-v1-to-v2"
HEADERS = ("deprecation", "sunset", "link")


def _now() -> datetime:
    # Whole seconds: the Deprecation header carries no fraction, so comparisons stay exact.
    return datetime.now(UTC).replace(microsecond=0)


def deprecated_v1(deprecated_days_ago: int, sunset_in_days: int) -> dict[str, Deprecation]:
    now = _now()
    return {
        "v1": Deprecation(
            deprecated_at=now - timedelta(days=deprecated_days_ago),
            sunset_at=now + timedelta(days=sunset_in_days),
            link=MIGRATION_NOTES,
        )
    }


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    settings = await isolated_settings(
        running_stack, tmp_path_factory.mktemp("deprecation"), "deprec"
    )
    await register(settings, ACME)
    return settings


@asynccontextmanager
async def serving(
    settings: Settings, node: str, deprecations: Mapping[str, Deprecation] | None
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over its own node (own WAL stream, so apps of different tests never share a
    WAL lock), reached over ASGI."""
    app = create_app(lambda: open_node(settings, "us", node), deprecations=deprecations)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as http,
    ):
        yield http


def sdk_client(http: httpx.AsyncClient) -> AsyncClient:
    return AsyncClient("http://node", http_client=http)


def sdk_signer() -> Signer:
    return Signer(ACME.private_key, tenant_id=ACME.tenant_id)


def parse_announcement(headers: httpx.Headers) -> tuple[datetime, datetime, str]:
    """Read the three headers back as a client would: RFC 9651 Date, HTTP-date, Link."""
    deprecation = re.fullmatch(r"@(-?\d+)", headers["deprecation"])
    assert deprecation is not None, headers["deprecation"]
    # An IMF-fixdate: fixed-length day and month names, two-digit day, GMT.
    assert re.fullmatch(
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
        r"\d{4} \d\d:\d\d:\d\d GMT",
        headers["sunset"],
    ), headers["sunset"]
    link = re.fullmatch(r'<([^>]+)>; rel="deprecation"', headers["link"])
    assert link is not None, headers["link"]
    return (
        datetime.fromtimestamp(int(deprecation.group(1)), UTC),
        parsedate_to_datetime(headers["sunset"]),
        link.group(1),
    )


async def test_a_deprecated_version_announces_itself_on_every_answer(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    table = deprecated_v1(deprecated_days_ago=30, sunset_in_days=400)
    async with serving(settings, "deprecated", table) as http:
        accepted = await http.post("/v1/events", content=body([ACME.event("dep-1")]))
        missing = await signed_read(http, ACME.tenant_id, "no-such-event")
        refused = await http.post("/v1/events", content=b'{"events": [')
        assert (accepted.status_code, missing.status_code, refused.status_code) == (200, 404, 400)
        for answer in (accepted, missing, refused):
            assert parse_announcement(answer.headers) == (
                table["v1"].deprecated_at,
                table["v1"].sunset_at,
                MIGRATION_NOTES,
            )
        # Outside the versioned API nothing is announced.
        for path in ("/healthz", "/metrics"):
            answer = await http.get(path)
            assert answer.status_code == 200
            assert not any(name in answer.headers for name in HEADERS), path

        # The SDK exposes the notice on the result and on the client, and warns once.
        client = sdk_client(http)
        with caplog.at_level(logging.WARNING, logger="geoledger_sdk"):
            first = await client.send([sdk_signer().sign("dep-2", "order.created", {"n": 1})])
            second = await client.send([sdk_signer().sign("dep-3", "order.created", {"n": 2})])
    assert first.all_ok and second.all_ok
    for notice in (first.deprecation, second.deprecation, client.deprecation):
        assert notice is not None
        assert notice.deprecation == accepted.headers["deprecation"]
        assert notice.sunset == accepted.headers["sunset"]
        assert notice.link == f'<{MIGRATION_NOTES}>; rel="deprecation"'
    warnings = [r for r in caplog.records if "deprecation notice" in r.getMessage()]
    assert len(warnings) == 1


async def test_after_its_sunset_a_version_answers_410_and_writes_nothing(
    settings: Settings,
) -> None:
    table = deprecated_v1(deprecated_days_ago=800, sunset_in_days=-400)
    async with serving(settings, "sunset", table) as http:
        gone = await http.post("/v1/events", content=body([ACME.event("gone-1")]))
        assert gone.status_code == 410
        error = gone.json()["error"]
        assert error["code"] == "sunset"
        assert "v1" in error["message"] and MIGRATION_NOTES in error["message"]
        assert parse_announcement(gone.headers)[1] == table["v1"].sunset_at
        assert (await http.get("/v1/events/acme/gone-1")).status_code == 410
        assert (await http.get("/healthz")).status_code == 200

        client = sdk_client(http)
        with pytest.raises(UnexpectedResponseError) as raised:
            await client.send([sdk_signer().sign("gone-2", "order.created", {"n": 1})])
        assert raised.value.status == 410
        assert client.deprecation is not None
        assert client.deprecation.sunset == gone.headers["sunset"]

    async with await DedupStore.open(settings.region("us")) as dedup:
        for event_id in ("gone-1", "gone-2"):
            assert await dedup.get_event(ACME.tenant_id, event_id) is None


async def test_the_current_version_carries_no_announcement(settings: Settings) -> None:
    assert "v1" not in DEPRECATIONS
    async with serving(settings, "current", deprecations=None) as http:
        answer = await http.post("/v1/events", content=body([ACME.event("cur-1")]))
        assert answer.status_code == 200
        assert not any(name in answer.headers for name in HEADERS)
        result = await sdk_client(http).send(
            [sdk_signer().sign("cur-2", "order.created", {"n": 1})]
        )
    assert result.all_ok and result.deprecation is None


# The middleware alone, over a stand-in app that answers 204: matching of paths and the exact
# sunset instant, with a clock the test controls.


async def _no_content(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _middleware_client(table: Mapping[str, Deprecation], now: datetime) -> httpx.AsyncClient:
    app = DeprecationMiddleware(_no_content, table, clock=lambda: now)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node")


@pytest.mark.parametrize(
    "path, announced",
    [
        ("/v1/events", True),
        ("/v1", True),
        ("/v1/", True),
        ("/v10/events", False),
        ("/v2/events", False),
        ("/healthz", False),
        ("/", False),
    ],
)
async def test_only_paths_of_the_deprecated_version_are_announced(
    path: str, announced: bool
) -> None:
    async with _middleware_client(deprecated_v1(1, 400), _now()) as http:
        answer = await http.get(path)
    assert answer.status_code == 204
    assert all((name in answer.headers) == announced for name in HEADERS)


async def test_the_sunset_instant_is_the_first_refused() -> None:
    table = deprecated_v1(1, 400)
    sunset = table["v1"].sunset_at
    async with _middleware_client(table, sunset - timedelta(microseconds=1)) as http:
        assert (await http.get("/v1/events")).status_code == 204
    async with _middleware_client(table, sunset) as http:
        assert (await http.get("/v1/events")).status_code == 410


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"deprecated_at": datetime(2030, 1, 1)}, "deprecated_at"),  # naive
        ({"sunset_at": datetime(2031, 6, 1)}, "sunset_at"),  # naive
        ({"sunset_at": datetime(2030, 12, 31, tzinfo=UTC)}, "sunset_at"),  # under 12 months
        ({"link": "https://x.test/a b"}, "link"),
        ({"link": 'https://x.test/">; rel="x'}, "link"),
        ({"link": ""}, "link"),
    ],
)
def test_a_malformed_deprecation_is_refused(fields: dict[str, object], field: str) -> None:
    good: dict[str, object] = {
        "deprecated_at": datetime(2030, 1, 1, tzinfo=UTC),
        "sunset_at": datetime(2031, 6, 1, tzinfo=UTC),
        "link": MIGRATION_NOTES,
    }
    with pytest.raises(ConfigError, match=f"^{field}: expected"):
        Deprecation(**{**good, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["", "v1/events", "v 1"])
def test_a_version_that_is_not_one_path_segment_is_refused(version: str) -> None:
    with pytest.raises(ConfigError, match="expected API versions"):
        DeprecationMiddleware(_no_content, {version: deprecated_v1(1, 400)["v1"]})
