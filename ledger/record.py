"""The WAL record payload: what a region writes for each accepted event, byte for byte.

A record is the RFC 8785 (JCS) form of
`{"v":1,"hlc":"<decimal>","region":..,"node":..,"accepted_at_ms":..,"event":{signed event}}`.
The stream's gap-free `seq` is not in the bytes: the WAL assigns it by position.

`hlc` is a decimal string, not a JSON number: a timestamp is `ms << 16 | counter`, about 2**57
today, and JCS numbers are IEEE 754 doubles that hold integers exactly only up to 2**53.

Decoding accepts exactly the bytes encoding produces (valid UTF-8, no duplicate keys, canonical
form), so decode(b) re-encodes to b and every region derives identical state from identical
records (I3). msgspec decodes a record straight into wire Structs; bytes it refuses, or that do
not re-encode to themselves, are parsed again the general way only to say what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from ledger.canonical import strict_json_loads
from ledger.envelope import SignedEvent, parse_signed_event
from ledger.errors import EventSchemaError, RecordDecodeError
from ledger.event_wire import (
    ANY,
    PLAIN,
    Invalid,
    WireSignedEvent,
    signed_event_from_wire,
    wire_type,
)
from ledger.hlc import MAX_HLC
from ledger.order import WinnerKey
from ledger.stream_id import NAME_RULE, is_name

RECORD_VERSION = 1
RECORD_FIELDS = frozenset({"v", "hlc", "region", "node", "accepted_at_ms", "event"})
MAX_SAFE_INTEGER = 2**53 - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)


@dataclass(frozen=True, slots=True)
class WalRecord:
    """One accepted event as its region's WAL stores it.

    hlc: the accepting node's hybrid-logical-clock timestamp, 0..2**64-1; region, node: the
    stream, names of 1-32 of [a-z0-9-] starting with a letter (as in configuration);
    accepted_at_ms: the node's wall clock at acceptance, 0..2**53-1; event: the signed event.
    Raises ValueError when a field is out of range.
    """

    hlc: int
    region: str
    node: str
    accepted_at_ms: int
    event: SignedEvent

    def __post_init__(self) -> None:
        _require_int(self.hlc, "hlc", MAX_HLC)
        _require_int(self.accepted_at_ms, "accepted_at_ms", MAX_SAFE_INTEGER)
        for name, value in (("region", self.region), ("node", self.node)):
            if not is_name(value):
                raise ValueError(f"expected {name} to be {NAME_RULE}, got {value!r}")
        if not isinstance(self.event, SignedEvent):
            raise ValueError(f"expected event to be a SignedEvent, got {type(self.event).__name__}")

    def winner_key(self, seq: int) -> WinnerKey:
        """This record's place in the winner order, given the seq the WAL assigned to it."""
        return WinnerKey(self.hlc, self.region, self.node, seq)


def _require_int(value: object, name: str, maximum: int) -> None:
    # bool is an int subclass; True must not pass for 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"expected {name} to be an integer in 0..{maximum}, got {value!r}")


def record_dict(record: WalRecord) -> dict[str, Any]:
    """The JSON object a record encodes to."""
    return {
        "v": RECORD_VERSION,
        "hlc": str(record.hlc),
        "region": record.region,
        "node": record.node,
        "accepted_at_ms": record.accepted_at_ms,
        "event": record.event.to_dict(),
    }


def encode_record(record: WalRecord) -> bytes:
    """The record's bytes: RFC 8785 canonical JSON of `record_dict(record)`.

    Assembled from the event's canonical form, computed once per event, rather than by
    canonicalizing the whole record again: JCS sorts members by key (§3.2.3), and the keys are
    fixed, so the form is `{"accepted_at_ms":..,"event":{..},"hlc":"..","node":..,"region":..,
    "v":1}` with each value in its own RFC 8785 form.
    """
    # __post_init__ checked every field: the integers are in range and not bool, region and node
    # are [a-z0-9-] names; their RFC 8785 forms are their decimal digits and quoted names.
    return b"".join(
        (
            b'{"accepted_at_ms":%d,"event":' % record.accepted_at_ms,
            record.event.canonical_event(),
            b',"hlc":"%d","node":"%s","region":"%s","v":%d}'
            % (record.hlc, record.node.encode(), record.region.encode(), RECORD_VERSION),
        )
    )


_Payload = TypeVar("_Payload")


class _WireRecord(msgspec.Struct, Generic[_Payload], forbid_unknown_fields=True):
    v: int
    hlc: str
    region: str
    node: str
    accepted_at_ms: int
    event: WireSignedEvent[_Payload]


# Tried in order: payloads msgspec canonicalizes itself, then any payload (a float, say).
_DECODERS = (
    (True, msgspec.json.Decoder(wire_type(_WireRecord, PLAIN))),
    (False, msgspec.json.Decoder(wire_type(_WireRecord, ANY))),
)


def decode_record(data: bytes) -> WalRecord:
    """Parse bytes written by `encode_record`.

    Raises RecordDecodeError, naming what was expected and what was found, for anything else:
    invalid UTF-8 or JSON, duplicate keys, NaN or Infinity, a version other than 1, missing or
    extra fields, out-of-range values, an event that fails the event schema, or bytes that are
    not the canonical form of the record they describe.
    """
    for plain, decoder in _DECODERS:
        try:
            wire: _WireRecord[Any] = decoder.decode(data)
        except (msgspec.DecodeError, RecursionError):
            continue
        try:
            record = _record_from_wire(wire, plain)
        except (Invalid, ValueError):
            break
        # The one canonical spelling, as below: this also refuses duplicate keys and escapes.
        if encode_record(record) == data:
            return record
        break
    return _decode_diagnosed(data)  # raises, naming the problem


def _record_from_wire(wire: _WireRecord[Any], plain: bool) -> WalRecord:
    if wire.v != RECORD_VERSION or not _DECIMAL.fullmatch(wire.hlc):
        raise Invalid
    event = signed_event_from_wire(wire.event, plain=plain)
    return WalRecord(int(wire.hlc), wire.region, wire.node, wire.accepted_at_ms, event)


def _decode_diagnosed(data: bytes) -> WalRecord:
    """`decode_record` the general way: json.loads with hooks, each rule checked in turn, so the
    error names the first rule the bytes break."""
    obj = _parse_json(data)
    if not isinstance(obj, dict):
        raise RecordDecodeError(f"expected a JSON object, got {type(obj).__name__}")
    if set(obj) != RECORD_FIELDS:
        missing, extra = sorted(RECORD_FIELDS - set(obj)), sorted(set(obj) - RECORD_FIELDS)
        raise RecordDecodeError(
            f"expected fields {sorted(RECORD_FIELDS)}: missing {missing}, unexpected {extra}"
        )
    version = obj["v"]
    if isinstance(version, bool) or version != RECORD_VERSION or not isinstance(version, int):
        raise RecordDecodeError(f"expected record version {RECORD_VERSION}, got {version!r}")
    hlc_text = obj["hlc"]
    if not isinstance(hlc_text, str) or not _DECIMAL.fullmatch(hlc_text):
        raise RecordDecodeError(f"expected hlc as a decimal string, got {hlc_text!r}")
    try:
        event = parse_signed_event(obj["event"])
    except EventSchemaError as exc:
        raise RecordDecodeError(f"event: {exc}") from None
    try:
        record = WalRecord(
            hlc=int(hlc_text),
            region=obj["region"],
            node=obj["node"],
            accepted_at_ms=obj["accepted_at_ms"],
            event=event,
        )
    except ValueError as exc:
        raise RecordDecodeError(str(exc)) from None
    # Everything above accepts some non-canonical spellings (whitespace, key order, escapes,
    # 1.0 for 1); only the one canonical spelling may be in a WAL.
    if encode_record(record) != data:
        raise RecordDecodeError(
            "expected the RFC 8785 canonical form of the record, got other bytes"
        )
    return record


def _parse_json(data: bytes) -> object:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordDecodeError(
            f"expected UTF-8, got an invalid byte at offset {exc.start}"
        ) from None
    try:
        return strict_json_loads(text)
    except RecursionError:
        raise RecordDecodeError("expected JSON nested less deeply, got deeper nesting") from None
    except ValueError as exc:  # json.JSONDecodeError, and the hooks' errors
        raise RecordDecodeError(f"expected JSON: {exc}") from None
