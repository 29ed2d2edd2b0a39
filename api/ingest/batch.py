"""Parsing one `POST /v1/events` body: whole-batch checks first, then each event's schema.

Whole-batch problems (a body that is not JSON, too large, too many events, one event id twice)
refuse the request; a bad event is a per-event `rejected` result. Neither writes anything.

A body is first decoded by msgspec straight into wire events (one pass in C for the whole
batch). A body that decoder refuses - malformed, a wrong shape, or one bad event anywhere - is
parsed again the general way (`json.loads`, then each event on its own), which names each problem;
json.loads decides what counts as JSON (it also accepts NaN, lone surrogate escapes, a BOM,
UTF-16), so both ways give every body the same answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from api.ingest.errors import BatchRejected
from api.ingest.results import Reason
from ledger.envelope import SignedEvent, parse_signed_event
from ledger.errors import EventSchemaError
from ledger.event_wire import (
    ANY,
    PLAIN,
    Invalid,
    WireSignedEvent,
    schema_error,
    signed_event_from_wire,
    wire_fields,
    wire_type,
)

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_EVENTS = 1000


_Payload = TypeVar("_Payload")


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str


@dataclass(frozen=True)
class BatchItem:
    """One event of the request, by position: parsed, or rejected with the reason why."""

    index: int
    tenant_id: str | None
    event_id: str | None
    event: SignedEvent | None
    rejection: Rejection | None


class _WireBatch(msgspec.Struct, Generic[_Payload], forbid_unknown_fields=True):
    events: list[WireSignedEvent[_Payload]]


# Tried in order: payloads msgspec canonicalizes itself, then any payload (a float, say).
_DECODERS = (
    (True, msgspec.json.Decoder(wire_type(_WireBatch, PLAIN))),
    (False, msgspec.json.Decoder(wire_type(_WireBatch, ANY))),
)


def parse_batch(body: bytes) -> list[BatchItem]:
    """Parse a request body. Raises `BatchRejected` for whole-batch problems."""
    if len(body) > MAX_BODY_BYTES:
        raise BatchRejected(
            413, "body_too_large", f"request body is {len(body)} bytes; at most {MAX_BODY_BYTES}"
        )
    for plain, decoder in _DECODERS:
        try:
            wire: list[WireSignedEvent[Any]] = decoder.decode(body).events
        except (msgspec.DecodeError, RecursionError):
            continue
        if not 0 < len(wire) <= MAX_EVENTS:
            break
        items = [_item_from_wire(index, event, plain) for index, event in enumerate(wire)]
        _refuse_repeated_keys(items)
        return items
    return _parse_general(body)  # rare: a bad body or event; the general way names it


def _item_from_wire(index: int, wire: WireSignedEvent[Any], plain: bool) -> BatchItem:
    try:
        event = signed_event_from_wire(wire, plain=plain)
    except Invalid:
        # The decoder checked types, ids and the field set: tenant_id and event_id are good.
        error = schema_error(wire_fields(wire), signed=True)
        rejection = Rejection(Reason(error.reason), error.detail)
        return BatchItem(index, wire.tenant_id, wire.event_id, None, rejection)
    return BatchItem(index, wire.tenant_id, wire.event_id, event, None)


def _parse_general(body: bytes) -> list[BatchItem]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchRejected(400, "malformed_json", f"request body is not JSON: {exc}") from None
    except RecursionError:
        # Arrays and objects nested about as deep as the interpreter's recursion limit (1000).
        raise BatchRejected(
            400, "malformed_json", "request body is nested too deeply to parse"
        ) from None
    events = _events_of(document)
    items = [_parse_item(index, raw) for index, raw in enumerate(events)]
    _refuse_repeated_keys(items)
    return items


def _events_of(document: Any) -> list[Any]:
    if not isinstance(document, dict) or set(document) != {"events"}:
        raise BatchRejected(
            422, "bad_batch", 'expected a JSON object {"events": [...]} with no other field'
        )
    events = document["events"]
    if not isinstance(events, list) or not events:
        raise BatchRejected(422, "bad_batch", '"events" must be a non-empty array')
    if len(events) > MAX_EVENTS:
        raise BatchRejected(
            413, "too_many_events", f"batch has {len(events)} events; at most {MAX_EVENTS}"
        )
    return events


def _parse_item(index: int, raw: Any) -> BatchItem:
    tenant_id = raw.get("tenant_id") if isinstance(raw, dict) else None
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    try:
        event = parse_signed_event(raw)
    except EventSchemaError as exc:
        return BatchItem(
            index,
            tenant_id if isinstance(tenant_id, str) else None,
            event_id if isinstance(event_id, str) else None,
            None,
            Rejection(Reason(exc.reason), exc.detail),
        )
    return BatchItem(index, event.tenant_id, event.event_id, event, None)


def _refuse_repeated_keys(items: list[BatchItem]) -> None:
    """One (tenant, event_id) twice in a batch is ambiguous: which one did the client mean?"""
    seen: dict[tuple[str, str], int] = {}
    for item in items:
        if item.tenant_id is None or item.event_id is None:
            continue
        key = (item.tenant_id, item.event_id)
        if key in seen:
            raise BatchRejected(
                422,
                "duplicate_event_id",
                f"events[{seen[key]}] and events[{item.index}] both have tenant_id "
                f"{key[0]!r} and event_id {key[1]!r}",
            )
        seen[key] = item.index
