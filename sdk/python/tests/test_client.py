"""`Client` and `AsyncClient` against a real HTTP server on loopback: retries, batching, typed
errors, deprecation notices."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from geoledger_sdk import (
    AsyncClient,
    BatchRejectedError,
    Client,
    EventNotFoundError,
    Reason,
    RetriesExhaustedError,
    RetryPolicy,
    Signer,
    UnexpectedResponseError,
    private_key_from_seed,
    read_signing_string,
)

from .ingest_stub import IngestStub, Reply, running_stub

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01)
SIGNER = Signer(private_key_from_seed(bytes(range(32))), tenant_id="acme")


def events(count: int, start: int = 0) -> list[Any]:
    return [
        SIGNER.sign(f"evt-{n}", "order.created", {"n": n}, occurred_at="2025-01-31T12:00:00Z")
        for n in range(start, start + count)
    ]


@pytest.fixture
def stub() -> Iterator[IngestStub]:
    with running_stub() as server:
        yield server


def test_two_503_then_success_resends_the_same_batch(stub: IngestStub) -> None:
    stub.script = [Reply(503, b"{}"), Reply(503, b"{}")]
    sent = events(3)
    with Client(stub.url, retry=FAST) as client:
        result = client.send(sent)

    assert [r.status for r in result.results] == ["accepted"] * 3
    assert [r.event_id for r in result.results] == ["evt-0", "evt-1", "evt-2"]
    assert result.all_ok
    assert len(stub.requests) == 3
    assert len({request.body for request in stub.requests}) == 1
    assert stub.requests[0].path == "/v1/events"
    assert stub.requests[0].headers["content-type"] == "application/json"
    body = json.loads(stub.requests[0].body)
    assert body["events"][0] == sent[0].to_dict()


def test_429_is_retried(stub: IngestStub) -> None:
    stub.script = [Reply(429, b"{}", {"Retry-After": "0"})]
    with Client(stub.url, retry=FAST) as client:
        assert client.send(events(1)).all_ok
    assert len(stub.requests) == 2


def test_429_gives_up_with_the_servers_retry_after(stub: IngestStub) -> None:
    stub.always = Reply(
        429, b'{"error": {"code": "rate_limited", "message": "slow down"}}', {"Retry-After": "0"}
    )
    with Client(stub.url, retry=FAST) as client, pytest.raises(RetriesExhaustedError) as caught:
        client.send(events(1))
    assert (caught.value.attempts, caught.value.last_status) == (4, 429)
    assert caught.value.retry_after == 0.0


def test_a_retry_after_over_max_delay_is_not_retried_sooner(stub: IngestStub) -> None:
    stub.always = Reply(429, b"{}", {"Retry-After": "30"})
    with Client(stub.url, retry=FAST) as client, pytest.raises(RetriesExhaustedError) as caught:
        client.send(events(1))
    assert (caught.value.attempts, caught.value.retry_after) == (1, 30.0)
    assert "retry after 30s" in str(caught.value)
    assert len(stub.requests) == 1


def test_persistent_5xx_gives_up_after_max_attempts(stub: IngestStub) -> None:
    stub.always = Reply(502, b"bad gateway")
    with Client(stub.url, retry=FAST) as client, pytest.raises(RetriesExhaustedError) as caught:
        client.send(events(2))
    assert caught.value.attempts == 4
    assert caught.value.last_status == 502
    assert len(stub.requests) == 4


@pytest.mark.parametrize("status", [400, 413, 422])
def test_batch_rejections_are_not_retried(stub: IngestStub, status: int) -> None:
    error = {"error": {"code": "batch.too_large", "message": "expected <= 1000 events"}}
    stub.script = [Reply(status, json.dumps(error).encode())]
    with Client(stub.url, retry=FAST) as client, pytest.raises(BatchRejectedError) as caught:
        client.send(events(1))
    assert (caught.value.status, caught.value.code) == (status, "batch.too_large")
    assert caught.value.message == "expected <= 1000 events"
    assert len(stub.requests) == 1


def test_other_4xx_is_unexpected_and_not_retried(stub: IngestStub) -> None:
    stub.script = [Reply(401, b'{"detail": "no"}')]
    with Client(stub.url, retry=FAST) as client, pytest.raises(UnexpectedResponseError) as caught:
        client.send(events(1))
    assert caught.value.status == 401
    assert len(stub.requests) == 1


def test_timeout_is_retried(stub: IngestStub) -> None:
    # Generous margins keep this stable on a loaded machine.
    stub.script = [Reply(delay=1.0)]
    with Client(stub.url, retry=FAST, timeout=0.25) as client:
        assert client.send(events(1)).all_ok
    assert len(stub.requests) == 2


def test_connection_refused_exhausts_retries() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: every attempt is refused.
    client = Client(f"http://127.0.0.1:{port}", retry=FAST)
    with client, pytest.raises(RetriesExhaustedError) as caught:
        client.send(events(1))
    assert caught.value.attempts == 4
    assert caught.value.last_status is None
    assert "ConnectError" in caught.value.last_failure


def test_large_sends_are_split_into_batches_of_1000(stub: IngestStub) -> None:
    with Client(stub.url, retry=FAST) as client:
        result = client.send(events(2500))
    assert [len(json.loads(r.body)["events"]) for r in stub.requests] == [1000, 1000, 500]
    assert [r.index for r in result.results] == list(range(2500))
    assert result.results[2499].event_id == "evt-2499"


def test_error_in_a_later_batch_reports_completed_results(stub: IngestStub) -> None:
    stub.script = [Reply(), Reply(422, b'{"error": {"code": "schema", "message": "bad"}}')]
    with Client(stub.url, retry=FAST) as client, pytest.raises(BatchRejectedError) as caught:
        client.send(events(1500))
    assert len(caught.value.completed) == 1000
    assert caught.value.completed[-1].event_id == "evt-999"


def test_per_event_statuses_are_reported(stub: IngestStub) -> None:
    answer = {
        "results": [
            {"index": 0, "tenant_id": "acme", "event_id": "evt-0", "status": "duplicate"},
            {
                "index": 1,
                "tenant_id": "acme",
                "event_id": "evt-1",
                "status": "rejected",
                "reason": "signature.invalid",
                "detail": "signature does not verify",
            },
        ]
    }
    stub.script = [Reply(200, json.dumps(answer).encode())]
    with Client(stub.url, retry=FAST) as client:
        result = client.send(events(2))
    assert [r.ok for r in result.results] == [True, False]
    assert not result.all_ok
    (failed,) = result.failed()
    assert failed.reason is Reason.SIGNATURE_INVALID
    assert failed.detail == "signature does not verify"


def test_a_reason_newer_than_the_sdk_is_kept_as_sent(stub: IngestStub) -> None:
    rejected = {"index": 0, "event_id": "evt-0", "status": "rejected", "reason": "tenant.suspended"}
    answer = {"results": [rejected]}
    stub.script = [Reply(200, json.dumps(answer).encode())]
    with Client(stub.url, retry=FAST) as client:
        (result,) = client.send(events(1)).results
    assert result.reason == "tenant.suspended"
    assert not isinstance(result.reason, Reason)


def test_result_count_mismatch_is_an_error(stub: IngestStub) -> None:
    stub.script = [Reply(200, b'{"results": []}')]
    with Client(stub.url, retry=FAST) as client, pytest.raises(UnexpectedResponseError):
        client.send(events(1))


def test_deprecation_headers_are_exposed_and_logged_once(
    stub: IngestStub, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Deprecation": "@1735689600", "Sunset": "Wed, 31 Dec 2025 23:59:59 GMT"}
    stub.always = Reply(headers=headers)
    client = Client(stub.url, retry=FAST)
    with caplog.at_level(logging.WARNING, logger="geoledger_sdk"), client:
        first = client.send(events(1))
        client.send(events(1, start=1))
    assert first.deprecation is not None
    assert first.deprecation.deprecation == "@1735689600"
    assert first.deprecation.sunset == "Wed, 31 Dec 2025 23:59:59 GMT"
    assert client.deprecation == first.deprecation
    warnings = [r for r in caplog.records if "deprecation" in r.getMessage()]
    assert len(warnings) == 1


def test_no_deprecation_without_headers(stub: IngestStub) -> None:
    with Client(stub.url, retry=FAST) as client:
        assert client.send(events(1)).deprecation is None
        assert client.deprecation is None


def test_get_event(stub: IngestStub) -> None:
    stored = events(1)[0].envelope.to_dict()
    stub.script = [Reply(503, b""), Reply(200, json.dumps(stored).encode()), Reply(404, b"{}")]
    with Client(stub.url, retry=FAST, signer=SIGNER) as client:
        assert client.get_event("acme", "evt-0") == stored
        with pytest.raises(EventNotFoundError):
            client.get_event("acme", "evt/unknown")
    assert stub.requests[1].method == "GET"
    assert stub.requests[1].path == "/v1/events/acme/evt-0"
    assert stub.requests[2].path == "/v1/events/acme/evt%2Funknown"
    assert_signed_read(stub.requests[2].headers["authorization"], "/v1/events/acme/evt%2Funknown")


def test_async_get_event_signs_the_path_it_sends(stub: IngestStub) -> None:
    stub.script = [Reply(200, b"{}")]

    async def scenario() -> Any:
        async with AsyncClient(stub.url, retry=FAST, signer=SIGNER) as client:
            return await client.get_event("acme", "a b/c")

    assert asyncio.run(scenario()) == {}
    assert stub.requests[0].path == "/v1/events/acme/a%20b%2Fc"
    assert_signed_read(stub.requests[0].headers["authorization"], "/v1/events/acme/a%20b%2Fc")


def assert_signed_read(authorization: str, path: str) -> None:
    """The header is SIGNER's signature of a GET of `path` with an empty body, at a ts now."""
    scheme, _, params = authorization.partition(" ")
    fields = dict(part.split("=", 1) for part in params.split(", "))
    assert scheme == "GEOLEDGER-ED25519"
    assert fields["key_id"] == SIGNER.key_id
    assert abs(int(fields["ts"]) - time.time()) < 60
    signature = base64.urlsafe_b64decode(fields["sig"] + "==")
    message = read_signing_string("GET", path, b"", int(fields["ts"]), SIGNER.key_id)
    SIGNER.private_key.public_key().verify(signature, message)


def test_async_client_retries_then_succeeds(stub: IngestStub) -> None:
    stub.script = [Reply(503, b"{}"), Reply(500, b"{}")]

    async def scenario() -> Any:
        async with AsyncClient(stub.url, retry=FAST) as client:
            return await client.send(events(3))

    result = asyncio.run(scenario())
    assert result.all_ok
    assert len(stub.requests) == 3


def test_async_client_batch_rejection(stub: IngestStub) -> None:
    stub.script = [Reply(413, b'{"error": {"code": "batch.too_large", "message": "4 MiB"}}')]

    async def scenario() -> None:
        async with AsyncClient(stub.url, retry=FAST) as client:
            await client.send(events(1))

    with pytest.raises(BatchRejectedError):
        asyncio.run(scenario())
    assert len(stub.requests) == 1


def test_async_client_gives_up_at_once_on_a_long_retry_after(stub: IngestStub) -> None:
    stub.always = Reply(429, b"{}", {"Retry-After": "30"})

    async def scenario() -> None:
        async with AsyncClient(stub.url, retry=FAST) as client:
            await client.send(events(1))

    with pytest.raises(RetriesExhaustedError) as caught:
        asyncio.run(scenario())
    assert (caught.value.attempts, caught.value.retry_after) == (1, 30.0)
    assert len(stub.requests) == 1
