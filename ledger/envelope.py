"""The event model: the envelope a client signs and the signed event it sends.

The envelope is exactly six fields, `{tenant_id, event_id, key_id, occurred_at, type, payload}`;
a signed event adds `signature`. Every field is validated here so that nothing downstream (the
dedup key, the WAL record, the signing input) can see a value the SDKs could not have produced.
Lengths count Unicode code points.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Self, cast

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from ledger.canonical import b64url_decode_exact, canonical_bytes
from ledger.errors import CanonicalFormError

MAX_PAYLOAD_BYTES = 262144
"""Largest accepted payload, measured as the length of its RFC 8785 canonical form."""

SIGNATURE_BYTES = 64
"""An Ed25519 signature (RFC 8032 §5.1.6) is 64 bytes: 86 unpadded base64url characters."""

ENVELOPE_FIELDS: tuple[str, ...] = (
    "tenant_id",
    "event_id",
    "key_id",
    "occurred_at",
    "type",
    "payload",
)
"""The signed fields, in the order this module declares them (JCS sorts them anyway)."""

_TENANT_FIRST_CHAR = re.compile(r"[a-z0-9]", re.ASCII)
_TENANT_CHAR = re.compile(r"[a-z0-9._-]", re.ASCII)
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9._:-]", re.ASCII)
# Whole-value forms of the rules above: one match accepts a valid value; only an invalid one is
# walked character by character to say where it goes wrong.
_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}", re.ASCII)
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
# The same forms for schemas that validate ids elsewhere (the ops API's OpenAPI parameters).
TENANT_ID_PATTERN = _TENANT_ID.pattern
TOKEN_PATTERN = _TOKEN.pattern
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
_TIME_LIMITS = (
    ("hour", 23),
    ("minute", 59),
    ("second", 60),
    ("offset_hour", 23),
    ("offset_minute", 59),
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
    if _TENANT_ID.fullmatch(value):
        return
    _check_chars(value, 64, _TENANT_CHAR, "lowercase letters, digits, '.', '_', '-'")
    if not _TENANT_FIRST_CHAR.fullmatch(value[0]):
        raise ValueError(f"expected a letter or digit first, got {value[0]!r} in {_show(value)}")


def check_token(value: str) -> None:
    """Require 1-128 of [A-Za-z0-9._:-] (event and key ids); raise ValueError otherwise."""
    if _TOKEN.fullmatch(value):
        return
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
    for name, limit in _TIME_LIMITS:
        text = match.group(name)
        if text is not None and int(text) > limit:
            raise ValueError(f"expected {name} <= {limit}, got {int(text)} in {_show(value)}")
    try:
        datetime(int(match.group("year")), int(match.group("month")), int(match.group("day")))
    except ValueError as exc:
        raise ValueError(
            f"expected a calendar date that exists, got {_show(value)}: {exc}"
        ) from None


def check_type(value: str) -> None:
    """Require 1-128 code points, none of them a control character (Unicode category Cc) or a
    lone surrogate (which has no UTF-8 form); raise ValueError otherwise."""
    if not 1 <= len(value) <= MAX_TYPE_CHARS:
        raise ValueError(f"expected 1-{MAX_TYPE_CHARS} characters, got {len(value)}")
    if value.isprintable():
        return  # printable excludes every Cc and Cs character (and more): nothing to report
    for position, c in enumerate(value):
        if unicodedata.category(c) in ("Cc", "Cs"):
            raise ValueError(
                "expected no control characters or lone surrogates, got "
                f"U+{ord(c):04X} at position {position} in {_show(value)}"
            )


def check_payload(value: dict[str, Any]) -> bytes:
    """Require a JSON object with an RFC 8785 form of at most MAX_PAYLOAD_BYTES bytes and return
    that form; raise ValueError otherwise (NaN, infinity, integers beyond 2**53 - 1, non-JSON
    types)."""
    try:
        canonical = canonical_bytes(value)
    except CanonicalFormError as exc:
        raise ValueError(str(exc)) from None
    if len(canonical) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"expected a canonical (RFC 8785) form of at most {MAX_PAYLOAD_BYTES} bytes, "
            f"got {len(canonical)}"
        )
    return canonical


# Where validation leaves the payload's canonical form (in the validation context) and where an
# event keeps its canonical forms once computed (in its __dict__, beside the fields: pydantic
# compares, dumps and hashes fields only; the fields are frozen and the payload read-only by
# contract, so a form never goes stale).
_PAYLOAD_FORM = "_canonical_payload"
_ENVELOPE_FORM = "_canonical_envelope"
_EVENT_FORM = "_canonical_event"
_HALVES = "_canonical_halves"
_SIGNATURE_FORM = "_signature_bytes"
_FORMS = (_PAYLOAD_FORM, _ENVELOPE_FORM, _EVENT_FORM, _HALVES, _SIGNATURE_FORM)


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
    def _payload(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        canonical = check_payload(value)
        if isinstance(info.context, dict):
            info.context[_PAYLOAD_FORM] = canonical
        return value

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with `update`, the canonical forms of the original are not carried over."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            for form in _FORMS:
                copied.__dict__.pop(form, None)
        return copied

    def _cached_form(self, form: str, build: Callable[[], bytes]) -> bytes:
        cached = self.__dict__.get(form)
        if cached is None:
            cached = build()
            self.__dict__[form] = cached
        return cast(bytes, cached)

    def canonical_payload(self) -> bytes:
        """RFC 8785 form of the payload, computed once (validation already did it)."""
        return self._cached_form(_PAYLOAD_FORM, lambda: canonical_bytes(self.payload))

    def canonical_envelope(self) -> bytes:
        """RFC 8785 (JCS) form of the six signed fields, computed once per event.

        Assembled from its parts: JCS sorts members by key, and the keys are fixed, so the form is
        `{"event_id":..,"key_id":..,"occurred_at":..,"payload":..,"tenant_id":..,"type":..}` with
        each value in its own RFC 8785 form (§3.2.3 ordering, §3.2.2 values).
        """
        return self._cached_form(_ENVELOPE_FORM, lambda: b"".join(self._halves()))

    def _halves(self) -> tuple[bytes, bytes]:
        """The canonical envelope cut after the payload, where a signed event's "signature"
        member goes (it sorts between "payload" and "tenant_id")."""
        cached = self.__dict__.get(_HALVES)
        if cached is None:
            head = b"".join(
                (
                    b'{"event_id":',
                    canonical_bytes(self.event_id),
                    b',"key_id":',
                    canonical_bytes(self.key_id),
                    b',"occurred_at":',
                    canonical_bytes(self.occurred_at),
                    b',"payload":',
                    self.canonical_payload(),
                )
            )
            tail = b"".join(
                (
                    b',"tenant_id":',
                    canonical_bytes(self.tenant_id),
                    b',"type":',
                    canonical_bytes(self.type),
                    b"}",
                )
            )
            cached = self.__dict__[_HALVES] = (head, tail)
        return cast(tuple[bytes, bytes], cached)

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
    def _signature(cls, value: str, info: ValidationInfo) -> str:
        try:
            raw = b64url_decode_exact(value, SIGNATURE_BYTES)
        except CanonicalFormError as exc:
            raise ValueError(f"expected an Ed25519 signature: {exc}") from None
        if isinstance(info.context, dict):
            info.context[_SIGNATURE_FORM] = raw
        return value

    def envelope(self) -> EventEnvelope:
        """The signed part, without the signature."""
        # The fields were validated when this event was built; validating again would only repeat
        # the canonicalization of a payload of up to 256 KiB. The forms computed so far carry over.
        envelope = EventEnvelope.model_construct(**self.envelope_dict())
        for form in (_PAYLOAD_FORM, _ENVELOPE_FORM, _HALVES):
            if form in self.__dict__:
                envelope.__dict__[form] = self.__dict__[form]
        return envelope

    def to_dict(self) -> dict[str, Any]:
        """The seven fields as a plain dict, the wire form of a signed event."""
        return {**self.envelope_dict(), "signature": self.signature}

    def canonical_event(self) -> bytes:
        """RFC 8785 form of `to_dict()`, signature included, computed once per event."""

        def assemble() -> bytes:
            head, tail = self._halves()
            return b"".join((head, b',"signature":', canonical_bytes(self.signature), tail))

        return self._cached_form(_EVENT_FORM, assemble)

    def signature_bytes(self) -> bytes:
        """The 64 signature bytes (RFC 8032 §5.1.6), decoded once (validation already did it).

        Raises CanonicalFormError for a signature that is not 86 canonical base64url characters
        (only possible for an event built without validation).
        """
        return self._cached_form(
            _SIGNATURE_FORM, lambda: b64url_decode_exact(self.signature, SIGNATURE_BYTES)
        )


# Parsing untrusted input lives beside the msgspec wire types; the names stay importable here.
from ledger.event_wire import parse_envelope, parse_signed_event  # noqa: E402

__all__ = [
    "ENVELOPE_FIELDS",
    "MAX_PAYLOAD_BYTES",
    "SIGNATURE_BYTES",
    "EventEnvelope",
    "SignedEvent",
    "check_payload",
    "check_rfc3339",
    "check_tenant_id",
    "check_token",
    "check_type",
    "parse_envelope",
    "parse_signed_event",
]
