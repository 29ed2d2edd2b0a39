"""The msgspec decoding path: which payloads msgspec canonicalizes itself, that its bytes are the
RFC 8785 reference's, and that a request body or record takes the general way only when it must.
(tests/fuzz compares every answer with the pre-msgspec parser; these pin the path's own rules.)
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
import rfc8785

from api.ingest import batch
from api.ingest.errors import BatchRejected
from ledger.envelope import parse_signed_event
from ledger.record import WalRecord, decode_record, encode_record
from ledger.wire_payload import PLAIN_DEPTH, PlainPayload, plain_canonical_bytes
from tests.support.tenants import tenant

ACME = tenant("acme")
PLAIN_DECODER = msgspec.json.Decoder(PlainPayload)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


PLAIN = [
    {},
    {"a": None, "b": True, "c": [1, -2, "x"], "d": {"e": {"f": []}}},
    {"max": 2**53 - 1, "min": -(2**53 - 1)},
    {"text": '\x00\x1f\x7f\u2028\ud7ff " \\ /', "é": "ü"},
    {"deep": _nested(PLAIN_DEPTH - 1)},
]
NOT_PLAIN = [
    {"float": 1.5},
    {"integral float": 1.0},
    {"unsafe": 2**53},
    {"deep": _nested(PLAIN_DEPTH)},
]


@pytest.mark.parametrize("payload", PLAIN)
def test_plain_payloads_are_canonicalized_by_msgspec_as_the_reference_does(payload: Any) -> None:
    decoded = PLAIN_DECODER.decode(json.dumps(payload))
    assert plain_canonical_bytes(decoded) == rfc8785.dumps(payload)


@pytest.mark.parametrize("payload", NOT_PLAIN)
def test_floats_unsafe_integers_and_deep_nesting_are_not_plain(payload: Any) -> None:
    with pytest.raises(msgspec.ValidationError):
        PLAIN_DECODER.decode(json.dumps(payload))


@pytest.mark.parametrize(
    "payload",
    [{"\ue000": 1}, {"\uffff": 1, "\U0001f600": 2}, {"a": [{"b": {"x\U0001f600": 1}}]}],
    ids=["private use name", "names UTF-16 sorts apart", "nested name"],
)
def test_names_at_or_above_e000_are_left_to_the_general_way(payload: Any) -> None:
    # UTF-16 order (RFC 8785 §3.2.3) puts "\uffff" after "\U0001f600"; code points do not.
    assert plain_canonical_bytes(PLAIN_DECODER.decode(json.dumps(payload))) is None


def test_values_at_or_above_e000_stay_on_the_msgspec_way() -> None:
    payload = {"note": "\U0001f600 \uffff", "list": ["\ue000", {"k": "\U0010ffff"}]}
    assert plain_canonical_bytes(PLAIN_DECODER.decode(json.dumps(payload))) == rfc8785.dumps(
        payload
    )


def _body(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


SIGNABLE = [*PLAIN, {"float": 1.5}, {"integral float": 1.0}, {"\uffff": 1, "\U0001f600": 2}]


@pytest.mark.parametrize("payload", SIGNABLE, ids=repr)
def test_every_payload_gets_the_reference_canonical_form_through_a_body(payload: Any) -> None:
    event = ACME.event("evt-1", payload)
    [item] = batch.parse_batch(_body(event))
    assert item.event is not None
    assert item.event.canonical_payload() == rfc8785.dumps(payload)
    assert item.event.canonical_event() == rfc8785.dumps(event)


def test_a_body_nested_past_the_recursion_limit_is_malformed_json_not_a_crash() -> None:
    deep = b'{"events":[' + b"[" * 5000 + b"]" * 5000 + b"]}"
    with pytest.raises(BatchRejected) as refused:
        batch.parse_batch(deep)
    assert (refused.value.status, refused.value.code) == (400, "malformed_json")


def test_json_loads_decides_what_json_is_so_a_utf16_body_is_still_accepted() -> None:
    event = ACME.event("evt-1", {"n": 1})
    [item] = batch.parse_batch(_body(event).decode().encode("utf-16"))
    assert item.event is not None and item.event.to_dict() == event


def test_one_bad_event_is_rejected_alone_with_its_reason() -> None:
    good, bad = ACME.event("evt-1", {"n": 1}), {**ACME.event("evt-2", {}), "type": "a\x01"}
    items = batch.parse_batch(_body(good, bad))
    assert items[0].event is not None and items[0].rejection is None
    assert items[1].rejection is not None and items[1].rejection.reason == "schema.type"
    assert (items[1].tenant_id, items[1].event_id) == ("acme", "evt-2")


@pytest.mark.parametrize("payload", [{"n": 1}, {"price": 19.99}], ids=["plain", "float"])
def test_records_round_trip_through_either_payload_decoder(payload: dict[str, Any]) -> None:
    event = parse_signed_event(ACME.event("evt-1", payload))
    record = WalRecord(hlc=2**60, region="us", node="n1", accepted_at_ms=1, event=event)
    data = encode_record(record)
    decoded = decode_record(data)
    assert decoded == record and encode_record(decoded) == data
