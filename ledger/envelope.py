"""The event model: the envelope a client signs and the signed event it sends.

The envelope is exactly six fields, `{tenant_id, event_id, key_id, occurred_at, type, payload}`;
a signed event adds `signature`. Every field is validated here so that nothing downstream (the
dedup key, the WAL record, the signing input) can see a value the SDKs could not have produced.
Lengths count Unicode code points.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import ErrorDetails

from ledger.canonical import b64url_decode_exact, canonical_bytes
from ledger.errors import CanonicalFormError, EventSchemaError

MAX_PAYLOAD_BYTES = 262144
"""Largest accepted payload, measured as the length of its RFC 8785 canonical form."""

SIGNATURE_BYTES = 64
"""An Ed25519 signature (RFC 8032 §5.1.6) is 64 bytes: 86 unpadded base64url characters."""

ENVELOPE_FIELDS = ("tenant_id", "event_id", "key_id", "occurred_at", "type", "payload")
"""The signed fields, in the order this module declares them (JCS sorts them anyway)."""

_TENANT_FIRST_CHAR = re.compile(r"[a-z0-9]", re.ASCII)
_TENANT_CHAR = re.compile(r"[a-z0-9._-]", re.ASCII)
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9._:-]", re.ASCII)
MAX_TYPE_CHARS = 128

# RFC 3339 §5.6 `date-time` with a mandatory offset. "T" and "Z" may be lower case (§5.6 NOTE).
# Fractions are limited to nanoseconds, the finest any SDK clock produces, which also bounds the
# field's length.
_RFC3339 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-](?P<offset_hour>[0-9]{2}):(?P<offset_minute>[0-9]{2}))",
    re.ASCII,
)


def _show(value: str, limit: int = 80) -> str:
    """Quote a possibly huge client value for an error message without copying all of it."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} chars)"


def _check_chars(value: str, max_chars: int, allowed: re.Pattern[str], described: str) -> None:
    if not 1 <= len(value) <= max_chars:
        raise ValueError(f"expected 1-{max_chars} characters, got {len(value)}")
    for position, c in enumerate(value):
        if not allowed.fullmatch(c):
            raise ValueError(
                f"expected only {described}, got {c!r} at position {position} in {_show(value)}"
            )


def check_tenant_id(value: str) -> None:
    """Require 1-64 of [a-z0-9._-], starting with a letter or digit; raise ValueError otherwise."""
    _check_chars(value, 64, _TENANT_CHAR, "lowercase letters, digits, '.', '_', '-'")
    if not _TENANT_FIRST_CHAR.fullmatch(value[0]):
        raise ValueError(f"expected a letter or digit first, got {value[0]!r} in {_show(value)}")


def check_token(value: str) -> None:
    """Require 1-128 of [A-Za-z0-9._:-] (event and key ids); raise ValueError otherwise."""
    _check_chars(value, 128, _TOKEN_CHAR, "letters, digits, '.', '_', ':', '-'")


def check_rfc3339(value: str) -> None:
    """Require an RFC 3339 §5.6 `date-time` with an explicit offset ("Z" or +hh:mm / -hh:mm) and
    real calendar values (§5.7: month and day exist, hour <= 23, minute <= 59, second <= 60 for
    leap seconds); raise ValueError otherwise."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError(
            "expected an RFC 3339 timestamp such as '2025-01-31T23:59:59.123Z' or "
            f"'2025-01-31T23:59:59+01:00', got {_show(value)}"
        )
    fields = {name: int(text) for name, text in match.groupdict().items() if text is not None}
    limits = {"hour": 23, "minute": 59, "second": 60, "offset_hour": 23, "offset_minute": 59}
    for name, limit in limits.items():
        if fields.get(name, 0) > limit:
            raise ValueError(f"expected {name} <= {limit}, got {fields[name]} in {_show(value)}")
    try:
        datetime(fields["year"], fields["month"], fields["day"])
    except ValueError as exc:
        raise ValueError(
            f"expected a calendar date that exists, got {_show(value)}: {exc}"
        ) from None


def check_type(value: str) -> None:
    """Require 1-128 code points, none of them a control character (Unicode category Cc) or a
    lone surrogate (which has no UTF-8 form); raise ValueError otherwise."""
    if not 1 <= len(value) <= MAX_TYPE_CHARS:
        raise ValueError(f"expected 1-{MAX_TYPE_CHARS} characters, got {len(value)}")
    for position, c in enumerate(value):
        if unicodedata.category(c) in ("Cc", "Cs"):
            raise ValueError(
                "expected no control characters or lone surrogates, got "
                f"U+{ord(c):04X} at position {position} in {_show(value)}"
            )


def check_payload(value: dict[str, Any]) -> None:
    """Require a JSON object with an RFC 8785 form of at most MAX_PAYLOAD_BYTES bytes; raise
    ValueError otherwise (NaN, infinity, integers beyond 2**53 - 1, non-JSON types)."""
    try:
        size = len(canonical_bytes(value))
    except CanonicalFormError as exc:
        raise ValueError(str(exc)) from None
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"expected a canonical (RFC 8785) form of at most {MAX_PAYLOAD_BYTES} bytes, got {size}"
        )


class _EnvelopeFields(BaseModel):
    """The six signed fields and their validation, shared by the envelope and the signed event."""

    # strict: a number is not silently turned into a string id; frozen: a validated event stays
    # valid; forbid: an unknown field would be unsigned data riding along with signed data.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    tenant_id: str
    event_id: str
    key_id: str
    occurred_at: str
    type: str
    payload: dict[str, Any]

    @field_validator("tenant_id")
    @classmethod
    def _tenant_id(cls, value: str) -> str:
        check_tenant_id(value)
        return value

    @field_validator("event_id", "key_id")
    @classmethod
    def _token(cls, value: str) -> str:
        check_token(value)
        return value

    @field_validator("occurred_at")
    @classmethod
    def _occurred_at(cls, value: str) -> str:
        # Validated but never re-formatted: the client's exact string is what it signed.
        check_rfc3339(value)
        return value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        check_type(value)
        return value

    @field_validator("payload")
    @classmethod
    def _payload(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_payload(value)
        return value

    def envelope_dict(self) -> dict[str, Any]:
        """The six signed fields as a plain dict, the object whose JCS form is signed.

        The payload is the model's own dict, not a copy: callers must not mutate it.
        """
        return {
            "tenant_id": self.tenant_id,
            "event_id": self.event_id,
            "key_id": self.key_id,
            "occurred_at": self.occurred_at,
            "type": self.type,
            "payload": self.payload,
        }


class EventEnvelope(_EnvelopeFields):
    """What a client signs. Nested payload values are not frozen: treat them as read-only."""


class SignedEvent(_EnvelopeFields):
    """An envelope plus its Ed25519 signature, unpadded base64url of 64 bytes (86 characters)."""

    signature: str

    @field_validator("signature")
    @classmethod
    def _signature(cls, value: str) -> str:
        try:
            b64url_decode_exact(value, SIGNATURE_BYTES)
        except CanonicalFormError as exc:
            raise ValueError(f"expected an Ed25519 signature: {exc}") from None
        return value

    def envelope(self) -> EventEnvelope:
        """The signed part, without the signature."""
        # The fields were validated when this event was built; validating again would only repeat
        # the canonicalization of a payload of up to 256 KiB.
        return EventEnvelope.model_construct(**self.envelope_dict())

    def to_dict(self) -> dict[str, Any]:
        """The seven fields as a plain dict, the wire form of a signed event."""
        return {**self.envelope_dict(), "signature": self.signature}


_Model = TypeVar("_Model", bound=_EnvelopeFields)


def parse_signed_event(obj: object) -> SignedEvent:
    """Validate a decoded JSON object as a signed event.

    Raises EventSchemaError naming the first offending field (and listing every problem in its
    message); `reason` is "schema.<field>", or "schema.event" when the object itself is wrong
    (not an object, or an unknown field).
    """
    return _parse(SignedEvent, obj)


def parse_envelope(obj: object) -> EventEnvelope:
    """Validate a decoded JSON object as an unsigned envelope; errors as `parse_signed_event`."""
    return _parse(EventEnvelope, obj)


def _parse(model: type[_Model], obj: object) -> _Model:
    if not isinstance(obj, dict):
        raise EventSchemaError("event", f"expected a JSON object, got {type(obj).__name__}")
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        field = problems[0][0]
        message = "; ".join(
            f"{where}: {what}" if where != field else what for where, what in problems
        )
        raise EventSchemaError(field, message) from None


def _describe(error: ErrorDetails) -> tuple[str, str]:
    """(field, message) for one pydantic error, in our words rather than pydantic's."""
    loc = error["loc"]
    field = str(loc[0]) if loc else "event"
    kind = error["type"]
    if kind == "extra_forbidden":
        return "event", (
            f"unexpected field {field!r}; expected exactly {', '.join(ENVELOPE_FIELDS)}"
            " (and signature)"
        )
    if kind == "missing":
        return field, f"{field} is required"
    if kind == "string_type":
        where = "a key" if len(loc) > 1 else field
        return field, f"expected {where} to be a string, got {type(error['input']).__name__}"
    if kind == "dict_type":
        return field, f"expected a JSON object, got {type(error['input']).__name__}"
    if kind == "value_error":
        return field, str(error.get("ctx", {}).get("error", error["msg"]))
    return field, error["msg"]
