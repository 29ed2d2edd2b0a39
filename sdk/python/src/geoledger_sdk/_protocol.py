"""The transport-independent half of the client: batching, retry timing, answer parsing.

Both `Client` and `AsyncClient` use these, so their behaviour cannot drift apart.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from geoledger_sdk.canonical import canonicalize
from geoledger_sdk.envelope import SignedEvent
from geoledger_sdk.errors import BatchRejectedError, UnexpectedResponseError
from geoledger_sdk.results import STATUSES, EventResult, Reason

MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 4 * 1024 * 1024
EVENTS_PATH = "/v1/events"
# Answers that reject the batch itself: resending the same bytes cannot help.
BATCH_REJECTED_STATUSES = frozenset({400, 413, 422})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for 429, 5xx, timeouts and connection errors.

    Attempt n (n >= 2) waits a uniformly random time in [d/2, d], d = min(max_delay,
    base_delay * 2**(n-2)); a `Retry-After` answer header raises the wait. A `Retry-After` over
    max_delay ends the retries at once: `RetriesExhaustedError.retry_after` says how long the
    server asked to wait. Events are idempotent by `event_id`, so resending the same batch is
    always safe.
    """

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(f"delays must be >= 0, got {self.base_delay}, {self.max_delay}")

    def may_wait(self, retry_after: float | None) -> bool:
        """Whether the policy waits as long as the server's `Retry-After` asks."""
        return retry_after is None or retry_after <= self.max_delay

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1 for the second attempt)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        wait = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


@dataclass(frozen=True)
class Batch:
    """Events sent in one request; `offset` is the index of the first one in the `send` call."""

    offset: int
    events: tuple[SignedEvent, ...]
    body: bytes


def plan_batches(events: Sequence[SignedEvent]) -> list[Batch]:
    """Split events into requests of at most MAX_BATCH_EVENTS events and MAX_BATCH_BYTES bytes.

    Each event is written as its RFC 8785 canonical JSON, so the server parses exactly the values
    that were signed.
    """
    batches: list[Batch] = []
    current: list[SignedEvent] = []
    encoded: list[bytes] = []
    size = len(b'{"events":[]}')
    offset = 0
    for event in events:
        if not isinstance(event, SignedEvent):
            raise TypeError(f"expected SignedEvent, got {type(event).__name__}")
        data = canonicalize(event.to_dict())
        grown = size + len(data) + (1 if encoded else 0)
        if encoded and (len(encoded) == MAX_BATCH_EVENTS or grown > MAX_BATCH_BYTES):
            batches.append(_batch(offset, current, encoded))
            offset += len(current)
            current, encoded = [], []
            size = len(b'{"events":[]}')
            grown = size + len(data)
        current.append(event)
        encoded.append(data)
        size = grown
    if encoded:
        batches.append(_batch(offset, current, encoded))
    return batches


def _batch(offset: int, events: list[SignedEvent], encoded: list[bytes]) -> Batch:
    return Batch(
        offset=offset, events=tuple(events), body=b'{"events":[' + b",".join(encoded) + b"]}"
    )


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP-date), or None."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def raise_for_batch_answer(status: int, body: bytes) -> None:
    """Raise the typed error for a non-200, non-retryable answer to `POST /v1/events`."""
    if status in BATCH_REJECTED_STATUSES:
        code, message = _error_body(body)
        raise BatchRejectedError(status, code, message)
    raise UnexpectedResponseError(status, _excerpt(body))


def parse_results(body: bytes, batch: Batch) -> list[EventResult]:
    """Read the 200 answer to one batch, renumbering each result to its index in `send`."""
    try:
        document = json.loads(body)
        raw_results = document["results"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UnexpectedResponseError(
            200, f"expected {{'results': [...]}}, got {_excerpt(body)}"
        ) from exc
    if not isinstance(raw_results, list) or len(raw_results) != len(batch.events):
        got = len(raw_results) if isinstance(raw_results, list) else type(raw_results).__name__
        raise UnexpectedResponseError(
            200, f"expected {len(batch.events)} results, one per event sent, got {got}"
        )
    results = []
    for position, (raw, event) in enumerate(zip(raw_results, batch.events, strict=True)):
        results.append(_parse_result(raw, position, event, batch.offset))
    return results


def _parse_result(raw: Any, position: int, event: SignedEvent, offset: int) -> EventResult:
    if not isinstance(raw, dict) or raw.get("status") not in STATUSES:
        raise UnexpectedResponseError(
            200, f"result {position}: expected a known status, got {raw!r}"
        )
    if raw.get("index", position) != position or raw.get("event_id") != event.envelope.event_id:
        raise UnexpectedResponseError(
            200,
            f"result {position}: expected index {position} for event "
            f"{event.envelope.event_id!r}, got index {raw.get('index')} "
            f"for {raw.get('event_id')!r}",
        )
    return EventResult(
        index=offset + position,
        tenant_id=str(raw.get("tenant_id", event.envelope.tenant_id)),
        event_id=event.envelope.event_id,
        status=raw["status"],
        reason=_reason(raw.get("reason")),
        detail=raw.get("detail"),
    )


def _reason(code: str | None) -> Reason | str | None:
    """A known code as its `Reason`; anything else (a code newer than this SDK) as it came."""
    if code is None:
        return None
    try:
        return Reason(code)
    except ValueError:
        return code


def _error_body(body: bytes) -> tuple[str, str]:
    try:
        error = json.loads(body)["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "unknown", _excerpt(body)


def _excerpt(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "..."
