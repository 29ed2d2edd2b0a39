"""`Client`: the synchronous HTTP client of the ingest API (`POST /v1/events`, `GET /v1/events`)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from geoledger_sdk._protocol import (
    EVENTS_PATH,
    RetryPolicy,
    is_retryable_status,
    parse_results,
    parse_retry_after,
    plan_batches,
    raise_for_batch_answer,
)
from geoledger_sdk._version import __version__
from geoledger_sdk.envelope import SignedEvent
from geoledger_sdk.errors import (
    ClientError,
    EventNotFoundError,
    RetriesExhaustedError,
    UnexpectedResponseError,
)
from geoledger_sdk.results import DeprecationNotice, EventResult, SendResult
from geoledger_sdk.signer import Signer

logger = logging.getLogger("geoledger_sdk")

USER_AGENT = f"geoledger-sdk-python/{__version__}"


class Client:
    """Sends signed events to `base_url` (e.g. `http://127.0.0.1:8080`).

    `send` splits events into batches the server accepts, retries 429 / 5xx / timeouts /
    connection errors with backoff (resending the same events, which is safe because events are
    idempotent by `event_id`), and raises a `ClientError` subclass when it cannot get an answer.
    The most recent `Deprecation`/`Sunset` notice is kept in `deprecation` and logged once.
    `get_event` signs its read with `signer`, a key registered for the tenant it reads.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        rng: random.Random | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.retry = retry or RetryPolicy()
        self.deprecation: DeprecationNotice | None = None
        self._rng = rng or random.Random()
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._headers = {"user-agent": USER_AGENT, **(headers or {})}
        self._warned_deprecation = False

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def send(self, events: Sequence[SignedEvent]) -> SendResult:
        """Send events; the result has one `EventResult` per event, in the order given.

        Raises `BatchRejectedError` (400/413/422), `RetriesExhaustedError`, or
        `UnexpectedResponseError`; their `completed` field holds results of earlier batches.
        """
        results: list[EventResult] = []
        notice: DeprecationNotice | None = None
        for batch in plan_batches(events):
            try:
                response = self._request("POST", EVENTS_PATH, batch.body)
                if response.status_code != 200:
                    raise_for_batch_answer(response.status_code, response.content)
                results.extend(parse_results(response.content, batch))
            except ClientError as exc:
                exc.completed = tuple(results)
                raise
            notice = DeprecationNotice.from_headers(response.headers) or notice
        return SendResult(results=tuple(results), deprecation=notice)

    def get_event(self, tenant_id: str, event_id: str) -> dict[str, Any]:
        """The winning envelope stored for `(tenant_id, event_id)`.

        Signed with `signer` (a read without one is answered 401, an `UnexpectedResponseError`).
        Raises `EventNotFoundError` when the server knows no such event, or when `signer`'s key
        belongs to another tenant (the server answers both alike).
        """
        path = f"{EVENTS_PATH}/{quote(tenant_id, safe='')}/{quote(event_id, safe='')}"
        signed = {"authorization": self.signer.authorize_read("GET", path)} if self.signer else {}
        response = self._request("GET", path, None, signed)
        if response.status_code == 404:
            raise EventNotFoundError(tenant_id, event_id)
        if response.status_code != 200:
            raise UnexpectedResponseError(response.status_code, response.text[:300])
        try:
            document = response.json()
        except ValueError as exc:
            raise UnexpectedResponseError(200, f"expected JSON, got {response.text[:300]}") from exc
        if not isinstance(document, dict):
            raise UnexpectedResponseError(200, f"expected a JSON object, got {document!r:.300}")
        return document

    def _request(
        self, method: str, path: str, body: bytes | None, extra: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """One logical request: retried on 429, 5xx and transport errors, as the policy allows."""
        headers = {**self._headers, **(extra or {})}
        if body is not None:
            headers["content-type"] = "application/json"
        failure, status, retry_after = "", None, None
        last_exc: Exception | None = None
        for attempt in range(1, self.retry.max_attempts + 1):
            if attempt > 1:
                time.sleep(self.retry.delay(attempt - 1, retry_after, self._rng))
            try:
                response = self._http.request(
                    method, self.base_url + path, content=body, headers=headers
                )
            except httpx.TransportError as exc:
                failure, status, retry_after, last_exc = (
                    f"{type(exc).__name__}: {exc}",
                    None,
                    None,
                    exc,
                )
                continue
            self._note_deprecation(response)
            if not is_retryable_status(response.status_code):
                return response
            failure = f"HTTP {response.status_code}"
            status, retry_after = response.status_code, parse_retry_after(response.headers)
            if not self.retry.may_wait(retry_after):
                break  # a retry sooner than the server asked would be refused again
        raise RetriesExhaustedError(attempt, failure, status, retry_after) from last_exc

    def _note_deprecation(self, response: httpx.Response) -> None:
        notice = DeprecationNotice.from_headers(response.headers)
        if notice is None:
            return
        self.deprecation = notice
        if not self._warned_deprecation:
            self._warned_deprecation = True
            logger.warning(
                "geoledger API answered with a deprecation notice: %s", notice.describe()
            )
