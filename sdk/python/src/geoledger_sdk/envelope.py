"""The event envelope and the signed event, with the field rules the server enforces.

Checking the rules here, before signing, turns a server-side `rejected` into an immediate
`InvalidEventError` that names the field.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geoledger_sdk.canonical import canonicalize
from geoledger_sdk.errors import CanonicalizationError, InvalidEventError

MAX_PAYLOAD_BYTES = 262144
"""Largest canonical (RFC 8785) size of a payload, in bytes."""

ENVELOPE_FIELDS = ("tenant_id", "event_id", "key_id", "occurred_at", "type", "payload")
"""The six fields a signature covers, and the only ones in the canonical envelope."""

_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
# RFC 3339 section 5.6 date-time with a mandatory offset ("Z" or +hh:mm); "T" and "Z" may be lower
# case (section 5.6 NOTE); fractions up to nanoseconds, as the server accepts.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
    r"([Zz]|[+-]([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)
_MAX_TYPE_CHARS = 128


@dataclass(frozen=True)
class Envelope:
    """What a client signs: `{tenant_id, event_id, key_id, occurred_at, type, payload}`.

    Construction validates every field and raises `InvalidEventError` naming the first bad one.
    `occurred_at` is signed verbatim, so it is kept exactly as given.
    """

    tenant_id: str
    event_id: str
    key_id: str
    occurred_at: str
    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_envelope(self)
        # Keep a private copy so later changes to the caller's dict cannot change what was
        # validated and what a signature covers.
        object.__setattr__(self, "payload", copy.deepcopy(dict(self.payload)))

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON object with exactly the six signed fields."""
        return {
            "tenant_id": self.tenant_id,
            "event_id": self.event_id,
            "key_id": self.key_id,
            "occurred_at": self.occurred_at,
            "type": self.type,
            "payload": dict(self.payload),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Envelope:
        """Read an envelope from a JSON object holding exactly the six fields."""
        _require_exact_fields(obj, ENVELOPE_FIELDS)
        return cls(**{name: obj[name] for name in ENVELOPE_FIELDS})


@dataclass(frozen=True)
class SignedEvent:
    """An envelope plus its `signature` (Ed25519, base64url without padding).

    The signature is not checked here; use `geoledger_sdk.verify` for that.
    """

    envelope: Envelope
    signature: str

    def __post_init__(self) -> None:
        if not isinstance(self.signature, str):
            raise InvalidEventError(
                "signature", f"expected a string, got {type(self.signature).__name__}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The wire form: the six envelope fields and `signature`."""
        return {**self.envelope.to_dict(), "signature": self.signature}

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> SignedEvent:
        """Read a signed event from its wire form (the six envelope fields and `signature`)."""
        _require_exact_fields(obj, (*ENVELOPE_FIELDS, "signature"))
        envelope = Envelope(**{name: obj[name] for name in ENVELOPE_FIELDS})
        return cls(envelope=envelope, signature=obj["signature"])


def _require_exact_fields(obj: Mapping[str, Any], expected: tuple[str, ...]) -> None:
    if not isinstance(obj, Mapping):
        raise InvalidEventError("event", f"expected a JSON object, got {type(obj).__name__}")
    missing = [name for name in expected if name not in obj]
    if missing:
        raise InvalidEventError(missing[0], f"{missing[0]} is required; missing {missing}")
    extra = sorted(set(obj) - set(expected))
    if extra:
        raise InvalidEventError(
            "event", f"unexpected fields {extra}; expected exactly {list(expected)}"
        )


def _check_envelope(env: Envelope) -> None:
    _check_pattern("tenant_id", env.tenant_id, _TENANT_ID, "1-64 of [a-z0-9._-] starting a-z0-9")
    _check_pattern("event_id", env.event_id, _IDENTIFIER, "1-128 of [A-Za-z0-9._:-]")
    _check_pattern("key_id", env.key_id, _IDENTIFIER, "1-128 of [A-Za-z0-9._:-]")
    _check_occurred_at(env.occurred_at)
    _check_type(env.type)
    _check_payload(env.payload)


def _check_pattern(name: str, value: object, pattern: re.Pattern[str], rule: str) -> None:
    if not isinstance(value, str):
        raise InvalidEventError(name, f"expected a string, got {type(value).__name__}")
    if not pattern.fullmatch(value):
        raise InvalidEventError(name, f"expected {rule}, got {value!r}")


def _check_occurred_at(value: object) -> None:
    if not isinstance(value, str):
        raise InvalidEventError("occurred_at", f"expected a string, got {type(value).__name__}")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise InvalidEventError(
            "occurred_at", f"expected an RFC 3339 date-time with offset, got {value!r}"
        )
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset_hours = int(match.group(9) or 0)
    offset_minutes = int(match.group(10) or 0)
    # Leap seconds (:60) are valid RFC 3339; datetime cannot hold them, so check them as :59.
    try:
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError as exc:
        raise InvalidEventError("occurred_at", f"expected a real date-time, got {value!r}") from exc
    if second > 60 or offset_hours > 23 or offset_minutes > 59:
        raise InvalidEventError("occurred_at", f"expected a real date-time, got {value!r}")


def _check_type(value: object) -> None:
    if not isinstance(value, str):
        raise InvalidEventError("type", f"expected a string, got {type(value).__name__}")
    if not 1 <= len(value) <= _MAX_TYPE_CHARS:
        raise InvalidEventError(
            "type", f"expected 1-{_MAX_TYPE_CHARS} characters, got {len(value)}"
        )
    for position, char in enumerate(value):
        # Cs: a lone surrogate has no UTF-8 form, so it could never be signed or sent.
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise InvalidEventError(
                "type",
                f"expected no control characters or lone surrogates, got U+{ord(char):04X} "
                f"at position {position}",
            )


def _check_payload(value: object) -> None:
    if not isinstance(value, Mapping):
        raise InvalidEventError("payload", f"expected a JSON object, got {type(value).__name__}")
    try:
        size = len(canonicalize(dict(value)))
    except CanonicalizationError as exc:
        raise InvalidEventError("payload", str(exc)) from exc
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidEventError(
            "payload", f"expected at most {MAX_PAYLOAD_BYTES} canonical bytes, got {size}"
        )
