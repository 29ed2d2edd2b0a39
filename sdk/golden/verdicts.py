"""The server's verdicts on what the vectors claim: the reference code decides them."""

from __future__ import annotations

from golden.types import Json
from ledger.envelope import parse_envelope, parse_signed_event
from ledger.errors import EventSchemaError
from ledger.keys import public_key_from_b64
from ledger.signing import verify


def reference_verify(public_key_b64: str, fields: Json, signature: str) -> bool:
    """The server's verdict: a schema error (bad signature encoding) is as invalid as a bad
    signature."""
    try:
        event = parse_signed_event({**fields, "signature": signature})
    except EventSchemaError:
        return False
    return verify(public_key_from_b64(public_key_b64), event)


def rejected_field(fields: Json, name: str) -> str:
    """The field the server's schema error names for the invalid envelope `fields` (case `name`).
    Raises AssertionError if the reference accepts it."""
    try:
        parse_envelope(fields)
    except EventSchemaError as exc:
        return exc.field
    raise AssertionError(f"invalid envelope {name}: the reference accepted it")
