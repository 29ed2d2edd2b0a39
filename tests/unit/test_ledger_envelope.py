"""The event schema: every field's good and bad values, and the errors clients see."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.canonical import b64url_encode, canonical_bytes
from ledger.envelope import (
    MAX_PAYLOAD_BYTES,
    EventEnvelope,
    SignedEvent,
    parse_envelope,
    parse_signed_event,
)
from ledger.errors import EventSchemaError

SIGNATURE = b64url_encode(bytes(range(64)))

VALID: dict[str, Any] = {
    "tenant_id": "acme",
    "event_id": "evt-1",
    "key_id": "ed25519:0011223344556677",
    "occurred_at": "2025-01-31T23:59:59Z",
    "type": "order.created",
    "payload": {"a": 1},
    "signature": SIGNATURE,
}


# An object whose canonical form is exactly `size` bytes: {"d":"xx...x"} has 8 bytes of framing.
def _payload_of(size: int) -> dict[str, Any]:
    return {"d": "x" * (size - 8)}


GOOD: list[tuple[str, Any]] = [
    ("tenant_id", "a"),
    ("tenant_id", "0"),
    ("tenant_id", "9lives"),
    ("tenant_id", "a.b_c-d"),
    ("tenant_id", "a" * 64),
    ("event_id", "e"),
    ("event_id", "A-z_0.9:x"),
    ("event_id", "urn:uuid:0b1c0f9e-9a44-4c4b-8f7c-1f0d0b3c6a11"),
    ("event_id", "-leading.punctuation_is:fine"),
    ("event_id", "x" * 128),
    ("key_id", "k"),
    ("key_id", "X" * 128),
    ("occurred_at", "2025-01-31T23:59:59Z"),
    ("occurred_at", "2025-01-31T23:59:59.1Z"),
    ("occurred_at", "2025-01-31T23:59:59.123456789Z"),
    ("occurred_at", "2025-01-31T23:59:59.123+05:30"),
    ("occurred_at", "2025-01-31T23:59:59-08:00"),
    ("occurred_at", "2025-01-31T23:59:59-00:00"),
    ("occurred_at", "2025-01-31t23:59:59z"),
    ("occurred_at", "2024-02-29T00:00:00Z"),
    ("occurred_at", "2016-12-31T23:59:60Z"),
    ("occurred_at", "2025-01-01T00:00:00+23:59"),
    ("occurred_at", "0001-01-01T00:00:00Z"),
    ("type", "t"),
    ("type", "order.created"),
    ("type", "with spaces and / slashes"),
    ("type", "注文.作成"),
    ("type", "😀" * 128),
    ("payload", {}),
    ("payload", {"nested": {"list": [1, "two", 3.5, None, True, False, {"x": []}]}}),
    ("payload", {"max_int": 2**53 - 1, "min_int": -(2**53 - 1)}),
    ("payload", {"": "empty key", "ключ": "unicode key"}),
    ("payload", _payload_of(MAX_PAYLOAD_BYTES)),
    ("signature", b64url_encode(bytes(64))),
    ("signature", b64url_encode(b"\xff" * 64)),
]

BAD: list[tuple[str, Any, str]] = [
    ("tenant_id", "", "1-64 characters"),
    ("tenant_id", "a" * 65, "1-64 characters"),
    ("tenant_id", "Acme", "'A' at position 0"),
    ("tenant_id", "acMe", "'M' at position 2"),
    ("tenant_id", "-acme", "letter or digit first"),
    ("tenant_id", ".acme", "letter or digit first"),
    ("tenant_id", "_acme", "letter or digit first"),
    ("tenant_id", "ac me", "' ' at position 2"),
    ("tenant_id", "a:b", "':' at position 1"),
    ("tenant_id", "a/b", "'/' at position 1"),
    ("tenant_id", "acmé", "position 3"),
    ("tenant_id", "acme\n", "position 4"),
    ("tenant_id", 5, "string"),
    ("tenant_id", None, "string"),
    ("event_id", "", "1-128 characters"),
    ("event_id", "x" * 129, "1-128 characters"),
    ("event_id", "a b", "' ' at position 1"),
    ("event_id", "a/b", "'/' at position 1"),
    ("event_id", "é", "position 0"),
    ("event_id", "a\x00", "position 1"),
    ("event_id", "e\n", "position 1"),
    ("event_id", 12, "string"),
    ("key_id", "", "1-128 characters"),
    ("key_id", "k" * 129, "1-128 characters"),
    ("key_id", "ed25519 abc", "position 7"),
    ("key_id", ["k"], "string"),
    ("occurred_at", "2025-01-31", "RFC 3339"),
    ("occurred_at", "2025-01-31T23:59:59", "RFC 3339"),
    ("occurred_at", "2025-01-31 23:59:59Z", "RFC 3339"),
    ("occurred_at", "2025-1-31T23:59:59Z", "RFC 3339"),
    ("occurred_at", "2025-01-31T23:59Z", "RFC 3339"),
    ("occurred_at", "2025-01-31T23:59:59+0530", "RFC 3339"),
    ("occurred_at", "2025-01-31T23:59:59+05", "RFC 3339"),
    ("occurred_at", "2025-01-31T23:59:59.Z", "RFC 3339"),
    ("occurred_at", "2025-01-31T23:59:59.1234567890Z", "RFC 3339"),
    ("occurred_at", "2025-01-31T23:59:59,5Z", "RFC 3339"),
    ("occurred_at", " 2025-01-31T23:59:59Z", "RFC 3339"),
    ("occurred_at", "2025-01-31T23:59:59Z\n", "RFC 3339"),
    ("occurred_at", "２０２５-01-31T23:59:59Z", "RFC 3339"),
    ("occurred_at", "2025-13-01T00:00:00Z", "calendar date"),
    ("occurred_at", "2025-00-01T00:00:00Z", "calendar date"),
    ("occurred_at", "2025-02-29T00:00:00Z", "calendar date"),
    ("occurred_at", "2025-04-31T00:00:00Z", "calendar date"),
    ("occurred_at", "2025-01-00T00:00:00Z", "calendar date"),
    ("occurred_at", "0000-01-01T00:00:00Z", "calendar date"),
    ("occurred_at", "2025-01-31T24:00:00Z", "hour <= 23"),
    ("occurred_at", "2025-01-31T23:60:00Z", "minute <= 59"),
    ("occurred_at", "2025-01-31T23:59:61Z", "second <= 60"),
    ("occurred_at", "2025-01-31T23:59:59+24:00", "offset_hour <= 23"),
    ("occurred_at", "2025-01-31T23:59:59+05:60", "offset_minute <= 59"),
    ("occurred_at", 1738367999, "string"),
    ("type", "", "1-128 characters"),
    ("type", "x" * 129, "1-128 characters"),
    ("type", "a\nb", "U+000A at position 1"),
    ("type", "a\tb", "U+0009"),
    ("type", "\x00", "U+0000"),
    ("type", "del\x7f", "U+007F"),
    ("type", "c1\x85", "U+0085"),
    ("type", "half\ud800", "U+D800"),
    ("type", 5, "string"),
    ("payload", [], "JSON object"),
    ("payload", "text", "JSON object"),
    ("payload", None, "JSON object"),
    ("payload", {"n": 2**53}, "exceeds safe integer"),
    ("payload", {"n": -(2**53)}, "exceeds safe integer"),
    ("payload", {"f": math.nan}, "not representable"),
    ("payload", {"f": math.inf}, "not representable"),
    ("payload", {"f": [-math.inf]}, "not representable"),
    ("payload", {1: "int key"}, "a key to be a string"),
    ("payload", {"nested": {1: "int key"}}, "keys must be strings"),
    ("payload", {"b": b"bytes"}, "unsupported type"),
    ("payload", {"s": {1, 2}}, "unsupported type"),
    ("payload", {"s": "half\ud800"}, "non-UTF-8"),
    ("payload", _payload_of(MAX_PAYLOAD_BYTES + 1), "at most 262144 bytes, got 262145"),
    ("signature", "", "86 base64url characters"),
    ("signature", SIGNATURE + "==", "86 base64url characters"),
    ("signature", SIGNATURE[:-1], "86 base64url characters"),
    ("signature", SIGNATURE[:-2] + "+/", "without '=' padding"),
    ("signature", SIGNATURE[:-1] + "x", "zero pad bits"),
    ("signature", 12, "string"),
]


def test_valid_event_parses() -> None:
    event = parse_signed_event(VALID)
    assert event.to_dict() == VALID
    assert event.envelope() == EventEnvelope(**{k: v for k, v in VALID.items() if k != "signature"})


@pytest.mark.parametrize(("field", "value"), GOOD)
def test_good_field_values_are_accepted(field: str, value: Any) -> None:
    event = parse_signed_event({**VALID, field: value})
    assert getattr(event, field) == value


@pytest.mark.parametrize(("field", "value", "message"), BAD)
def test_bad_field_values_are_rejected_naming_the_field(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(EventSchemaError) as caught:
        parse_signed_event({**VALID, field: value})
    assert caught.value.field == field
    assert caught.value.reason == f"schema.{field}"
    assert str(caught.value).startswith(f"{field}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize("field", list(VALID))
def test_missing_fields_are_named(field: str) -> None:
    with pytest.raises(EventSchemaError) as caught:
        parse_signed_event({k: v for k, v in VALID.items() if k != field})
    assert caught.value.reason == f"schema.{field}"
    assert "required" in str(caught.value)


def test_unknown_fields_are_rejected() -> None:
    # An unknown field would be unsigned data travelling with signed data.
    with pytest.raises(EventSchemaError) as caught:
        parse_signed_event({**VALID, "priority": "high"})
    assert caught.value.reason == "schema.event"
    assert "'priority'" in str(caught.value)


@pytest.mark.parametrize("obj", [None, [], "event", 5, [VALID]])
def test_a_non_object_is_rejected(obj: object) -> None:
    with pytest.raises(EventSchemaError) as caught:
        parse_signed_event(obj)
    assert caught.value.reason == "schema.event"
    assert "JSON object" in str(caught.value)


def test_every_problem_is_listed_and_the_first_names_the_reason() -> None:
    with pytest.raises(EventSchemaError) as caught:
        parse_signed_event({**VALID, "event_id": "", "type": ""})
    assert caught.value.reason == "schema.event_id"
    assert "type: " in str(caught.value)


def test_an_envelope_has_no_signature() -> None:
    envelope = parse_envelope({k: v for k, v in VALID.items() if k != "signature"})
    assert envelope.tenant_id == "acme"
    with pytest.raises(EventSchemaError) as caught:
        parse_envelope(VALID)
    assert caught.value.reason == "schema.event"


def test_occurred_at_is_kept_exactly_as_sent() -> None:
    spelled = "2025-01-31t23:59:59.100-00:00"
    event = parse_signed_event({**VALID, "occurred_at": spelled})
    assert event.occurred_at == spelled
    assert event.envelope().occurred_at == spelled
    assert spelled.encode() in canonical_bytes(event.envelope().envelope_dict())


def test_events_are_frozen() -> None:
    event = parse_signed_event(VALID)
    with pytest.raises(ValidationError):
        event.tenant_id = "other"  # type: ignore[misc]


def test_long_values_are_quoted_short_in_messages() -> None:
    with pytest.raises(EventSchemaError) as caught:
        parse_signed_event({**VALID, "event_id": "x" * 127 + " "})
    assert "(128 chars)" in str(caught.value)
    assert len(str(caught.value)) < 200
    # A huge value fails on its length before anything would quote it.
    with pytest.raises(EventSchemaError) as caught:
        parse_signed_event({**VALID, "type": "\n" * 1_000_000})
    assert len(str(caught.value)) < 200


def test_signed_event_and_envelope_share_the_same_rules() -> None:
    with pytest.raises(ValidationError):
        EventEnvelope(**{**{k: v for k, v in VALID.items() if k != "signature"}, "type": ""})
    with pytest.raises(ValidationError):
        SignedEvent(**{**VALID, "type": ""})
