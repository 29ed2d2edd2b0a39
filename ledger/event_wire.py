"""Decoding and validating signed events from untrusted input, on msgspec.

Two paths give one answer. The fast path decodes JSON bytes straight into `WireSignedEvent`
Structs (msgspec checks the types, the field set and the id patterns in C), runs the checks a
constraint cannot express (calendar, printable type, payload canonical form and size, signature
bytes) and builds the `SignedEvent` without validating it again. Decoded as `PLAIN`, a payload
is also known to be one msgspec canonicalizes itself (`ledger.wire_payload`); decoded as `ANY`,
it is canonicalized the general way.

Anything the fast path does not accept goes to the diagnosing path, which checks every field of
the decoded object in declaration order and names each problem: the first one is the reason code
(`schema.<field>`). Only events that fail pay for the diagnosis, and the fast path only ever
accepts what the diagnosing path accepts (tests/fuzz holds both to the pre-msgspec parser).
"""

from __future__ import annotations

import base64
import re
from typing import Annotated, Any, Final, Generic, TypeVar, cast

import msgspec

from ledger.canonical import b64url_decode_exact
from ledger.envelope import (
    _PAYLOAD_FORM,
    _SIGNATURE_FORM,
    ENVELOPE_FIELDS,
    MAX_PAYLOAD_BYTES,
    SIGNATURE_BYTES,
    EventEnvelope,
    SignedEvent,
    check_payload,
    check_rfc3339,
    check_tenant_id,
    check_token,
    check_type,
)
from ledger.errors import CanonicalFormError, EventSchemaError
from ledger.wire_payload import PlainPayload, plain_canonical_bytes

# The same rules as `check_tenant_id` and `check_token`, as whole-value patterns msgspec runs in
# its decoder. \A and \Z, not ^ and $: "$" also matches before a trailing newline.
_TenantId = Annotated[str, msgspec.Meta(pattern=r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")]
_Token = Annotated[str, msgspec.Meta(pattern=r"\A[A-Za-z0-9._:-]{1,128}\Z")]
# 64 bytes are 86 base64url characters whose last one carries 2 bits of data and 4 zero pad
# bits: only A, Q, g or w can end the canonical encoding (RFC 4648 §3.5), so a signature that
# matches is canonical and decodes without the re-encoding check of `b64url_decode_exact`.
_SIGNATURE_PATTERN = r"\A[A-Za-z0-9_-]{85}[AQgw]\Z"
_Signature = Annotated[str, msgspec.Meta(pattern=_SIGNATURE_PATTERN)]
_CANONICAL_SIGNATURE = re.compile(_SIGNATURE_PATTERN)
# The timestamps `check_rfc3339` accepts whose ranges need no arithmetic: years 1000-9999, days
# that every year has in their month (so not February 29th), hours, minutes, seconds (no leap
# second) and offsets in range. A match is valid; anything else gets the full check.
_COMMON_RFC3339 = re.compile(
    r"[1-9][0-9]{3}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)[Tt]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])",
    re.ASCII,
)


_Payload = TypeVar("_Payload")


class WireSignedEvent(msgspec.Struct, Generic[_Payload], forbid_unknown_fields=True, frozen=True):
    """A signed event as it arrives: types and id patterns checked by the decoder. `_Payload` is
    `PLAIN` or `ANY`."""

    tenant_id: _TenantId
    event_id: _Token
    key_id: _Token
    occurred_at: str
    type: str
    payload: _Payload
    signature: _Signature


PLAIN: Final[Any] = PlainPayload
"""Payload type argument: values whose canonical form msgspec writes (see ledger.wire_payload)."""
ANY: Final[Any] = dict[str, Any]
"""Payload type argument: any JSON object."""


def wire_type(container: Any, payload: Any) -> Any:
    """`container[payload]`, a generic Struct over the payload type, for a msgspec Decoder."""
    return cast(Any, container)[payload]


_Event = TypeVar("_Event", EventEnvelope, SignedEvent)


class Invalid(Exception):
    """The fast path does not accept this event; the diagnosing path says why."""


_SIGNED_FIELDS: Final = frozenset((*ENVELOPE_FIELDS, "signature"))
_UNSIGNED_FIELDS: Final = frozenset(ENVELOPE_FIELDS)
_FIELD_NAMES: Final[dict[type[Any], frozenset[str]]] = {
    SignedEvent: _SIGNED_FIELDS,
    EventEnvelope: _UNSIGNED_FIELDS,
}
_NEW = object.__new__
_SET = object.__setattr__


def signed_event_from_wire(wire: WireSignedEvent[Any], *, plain: bool) -> SignedEvent:
    """The validated `SignedEvent` of a decoded wire event (`plain`: decoded with `PLAIN`);
    raises `Invalid` for a value the decoder's constraints let through but the schema refuses."""
    return _build(
        SignedEvent,
        wire.tenant_id,
        wire.event_id,
        wire.key_id,
        wire.occurred_at,
        wire.type,
        wire.payload,
        wire.signature,
        plain=plain,
    )


def wire_fields(wire: WireSignedEvent[Any]) -> dict[str, Any]:
    """The decoded fields as the plain object the diagnosing path takes."""
    return {name: getattr(wire, name) for name in wire.__struct_fields__}


def parse_signed_event(obj: object) -> SignedEvent:
    """Validate a decoded JSON object as a signed event.

    Raises EventSchemaError naming the first offending field (and listing every problem in its
    message); `reason` is "schema.<field>", or "schema.event" when the object itself is wrong
    (not an object, or an unknown field).
    """
    if isinstance(obj, dict) and obj.keys() == _SIGNED_FIELDS:
        try:
            return _build_checked(SignedEvent, obj)
        except Invalid:
            pass
    raise schema_error(obj, signed=True)


def parse_envelope(obj: object) -> EventEnvelope:
    """Validate a decoded JSON object as an unsigned envelope; errors as `parse_signed_event`."""
    if isinstance(obj, dict) and obj.keys() == _UNSIGNED_FIELDS:
        try:
            return _build_checked(EventEnvelope, obj)
        except Invalid:
            pass
    raise schema_error(obj, signed=False)


def _build_checked(model: type[_Event], obj: dict[Any, Any]) -> _Event:
    tenant_id, event_id, key_id = obj["tenant_id"], obj["event_id"], obj["key_id"]
    occurred_at, type_, payload = obj["occurred_at"], obj["type"], obj["payload"]
    signature = obj.get("signature") if model is SignedEvent else None
    strings = (tenant_id, event_id, key_id, occurred_at, type_)
    if not all(isinstance(value, str) for value in strings) or not isinstance(payload, dict):
        raise Invalid
    if not all(isinstance(key, str) for key in payload):
        raise Invalid
    if model is SignedEvent and not isinstance(signature, str):
        raise Invalid
    _tenant_id_or_invalid(tenant_id)
    _token_or_invalid(event_id)
    _token_or_invalid(key_id)
    # A copy, as validation made one: the caller keeps its dict, the event its own.
    copied = dict(payload)
    return _build(
        model, tenant_id, event_id, key_id, occurred_at, type_, copied, signature, plain=False
    )


def _tenant_id_or_invalid(value: str) -> None:
    try:
        check_tenant_id(value)
    except ValueError:
        raise Invalid from None


def _token_or_invalid(value: str) -> None:
    try:
        check_token(value)
    except ValueError:
        raise Invalid from None


def _build(
    model: type[_Event],
    tenant_id: str,
    event_id: str,
    key_id: str,
    occurred_at: str,
    type_: str,
    payload: dict[str, Any],
    signature: str | None,
    *,
    plain: bool,
) -> _Event:
    """The event of values whose types and ids are already checked; the remaining checks run
    here, and what they compute (canonical payload, signature bytes) is kept on the event."""
    try:
        if not _COMMON_RFC3339.fullmatch(occurred_at):
            check_rfc3339(occurred_at)
        check_type(type_)
        canonical_payload = plain_canonical_bytes(payload) if plain else None
        if canonical_payload is None:
            canonical_payload = check_payload(payload)
        elif len(canonical_payload) > MAX_PAYLOAD_BYTES:
            raise Invalid
        fields: dict[str, Any] = {
            "tenant_id": tenant_id,
            "event_id": event_id,
            "key_id": key_id,
            "occurred_at": occurred_at,
            "type": type_,
            "payload": payload,
        }
        if signature is not None:
            if not _CANONICAL_SIGNATURE.fullmatch(signature):
                raise Invalid
            fields["signature"] = signature
            fields[_SIGNATURE_FORM] = base64.urlsafe_b64decode(signature + "==")
    except (ValueError, CanonicalFormError):
        raise Invalid from None
    fields[_PAYLOAD_FORM] = canonical_payload
    # What pydantic's model_construct does, without its per-call bookkeeping: the values were
    # validated above, and the canonical forms ride in __dict__ as `_EnvelopeFields` expects.
    event = _NEW(model)
    _SET(event, "__dict__", fields)
    _SET(event, "__pydantic_fields_set__", set(_FIELD_NAMES[model]))
    _SET(event, "__pydantic_extra__", None)
    _SET(event, "__pydantic_private__", None)
    return event


def schema_error(obj: object, *, signed: bool) -> EventSchemaError:
    """The error for an object the schema refuses: every problem, in the order of the fields'
    declaration (unknown fields last), the first one naming the reason."""
    if not isinstance(obj, dict):
        return EventSchemaError("event", f"expected a JSON object, got {type(obj).__name__}")
    if any(isinstance(name, str) and not _is_unicode(name) for name in obj):
        # A member name with a lone surrogate (json.loads reads "\ud800" escapes): the object
        # as a whole is refused with no other detail, as the pydantic-based parser did.
        return EventSchemaError("event", _NOT_UNICODE)
    names = (*ENVELOPE_FIELDS, "signature") if signed else ENVELOPE_FIELDS
    problems: list[tuple[str, str]] = []
    for name in names:
        if name not in obj:
            problems.append((name, f"{name} is required"))
        else:
            problems.extend(_field_problems(name, obj[name]))
    allowed = _SIGNED_FIELDS if signed else _UNSIGNED_FIELDS
    for name in obj:
        if name not in allowed:
            problems.append(
                (
                    "event",
                    f"unexpected field {str(name)!r}; expected exactly "
                    f"{', '.join(ENVELOPE_FIELDS)} (and signature)",
                )
            )
    if not problems:
        raise AssertionError("schema_error called for an object the schema accepts")
    field = problems[0][0]
    message = "; ".join(f"{where}: {what}" if where != field else what for where, what in problems)
    return EventSchemaError(field, message)


_NOT_UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"


def _is_unicode(text: str) -> bool:
    """False for a string holding a lone surrogate, which has no UTF-8 form."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _field_problems(name: str, value: object) -> list[tuple[str, str]]:
    if name == "payload":
        if not isinstance(value, dict):
            return [(name, f"expected a JSON object, got {type(value).__name__}")]
        bad_keys = [
            (name, f"expected a key to be a string, got {type(key).__name__}")
            for key in value
            if not isinstance(key, str)
        ]
        if bad_keys:
            return bad_keys
    elif not isinstance(value, str):
        return [(name, f"expected {name} to be a string, got {type(value).__name__}")]
    try:
        _FIELD_CHECKS[name](value)
    except ValueError as exc:
        return [(name, str(exc))]
    return []


def _check_signature(value: str) -> None:
    try:
        b64url_decode_exact(value, SIGNATURE_BYTES)
    except CanonicalFormError as exc:
        raise ValueError(f"expected an Ed25519 signature: {exc}") from None


_FIELD_CHECKS: Final[dict[str, Any]] = {
    "tenant_id": check_tenant_id,
    "event_id": check_token,
    "key_id": check_token,
    "occurred_at": check_rfc3339,
    "type": check_type,
    "payload": check_payload,
    "signature": _check_signature,
}
