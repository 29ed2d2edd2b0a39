"""The vectors' `read_requests` section: signed reads (ledger/read_signing.py), each with its
canonical request string, signature and `Authorization` header, and tampered copies of each with
the server's verdict (every one refused).

The SDKs reproduce `canonical` and `authorization` byte for byte from (key, method, path, body,
ts); the server's unit tests check the verdicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from golden.keys import golden_key
from golden.types import Json
from ledger.canonical import b64url_encode
from ledger.keys import key_id_for, public_key_bytes
from ledger.read_signing import (
    AUTH_SCHEME,
    READ_SIGNING_VERSION,
    SIGNATURE_BYTES,
    authorization_header,
    parse_authorization,
    read_signing_string,
    sign_read,
    verify_read,
)

TS = 1767225600  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class ReadCase:
    name: str
    key: str
    method: str
    path: str
    body: bytes
    ts: int


READ_CASES = (
    ReadCase("get_event", "key-1", "GET", "/v1/events/acme/order-0001", b"", TS),
    # Ids are percent-encoded whole ('/' as %2F): the server sees the path exactly as sent.
    ReadCase("get_event_escaped_slash", "key-2", "GET", "/v1/events/acme/evt%2Funknown", b"", TS),
    ReadCase(
        "get_event_utf8_id",
        "key-3",
        "GET",
        "/v1/events/globex/%C3%A9v%C3%A9nement%20%E2%82%AC1",
        b"",
        TS + 299,
    ),
    # Nothing but reads is signed today; a body shows how its digest enters the string.
    ReadCase("post_with_body", "key-1", "POST", "/v1/events", b'{"events":[]}', TS + 1),
)


@dataclass(frozen=True)
class Request:
    """What the server sees: the request parts and the header value."""

    method: str
    path: str
    body: bytes
    authorization: str


def _changed_method(request: Request) -> Request:
    return Request("PUT", request.path, request.body, request.authorization)


def _changed_path(request: Request) -> Request:
    return Request(request.method, request.path + "x", request.body, request.authorization)


def _changed_body(request: Request) -> Request:
    return Request(request.method, request.path, request.body + b" ", request.authorization)


def _changed_ts(request: Request) -> Request:
    credential = parse_authorization(request.authorization)
    header = authorization_header(credential.key_id, credential.ts + 1, credential.signature)
    return Request(request.method, request.path, request.body, header)


def _changed_key_id(request: Request) -> Request:
    # Another golden key's id: the server would verify under that key, which did not sign.
    credential = parse_authorization(request.authorization)
    other = _key_id("key-3" if credential.key_id != _key_id("key-3") else "key-1")
    header = authorization_header(other, credential.ts, credential.signature)
    return Request(request.method, request.path, request.body, header)


def _flipped_signature_bit(request: Request) -> Request:
    credential = parse_authorization(request.authorization)
    flipped = bytearray(credential.signature)
    flipped[len(request.path) % SIGNATURE_BYTES] ^= 1
    header = authorization_header(credential.key_id, credential.ts, bytes(flipped))
    return Request(request.method, request.path, request.body, header)


TAMPERINGS: tuple[tuple[str, Callable[[Request], Request]], ...] = (
    ("changed_method", _changed_method),
    ("changed_path", _changed_path),
    ("changed_body", _changed_body),
    ("changed_ts", _changed_ts),
    ("changed_key_id", _changed_key_id),
    ("flipped_signature_bit", _flipped_signature_bit),
)


def read_requests_section() -> Json:
    """The `read_requests` section: every case signed by the reference, and its tamperings with
    the reference's verdict (checked here to be a refusal, or the table is wrong)."""
    return {
        "description": (
            "Signed reads (docs/DECISIONS.md, Authenticated reads). canonical = version LF "
            "method LF path (as sent, percent-encoded, no query) LF hex(SHA-256(body)) LF ts "
            "(Unix seconds) LF key_id; signature = Ed25519 over its ASCII bytes; sent as "
            "'Authorization: <scheme> key_id=<key_id>, ts=<ts>, sig=<unpadded base64url>'. "
            "Keys are the golden test keys (`keys`)."
        ),
        "version": READ_SIGNING_VERSION,
        "scheme": AUTH_SCHEME,
        "cases": [_entry(case) for case in READ_CASES],
    }


def _entry(case: ReadCase) -> Json:
    key = golden_key(case.key)
    key_id = _key_id(case.key)
    canonical = read_signing_string(case.method, case.path, case.body, case.ts, key_id)
    authorization = sign_read(key, key_id, case.method, case.path, case.body, case.ts)
    signature = parse_authorization(authorization).signature
    request = Request(case.method, case.path, case.body, authorization)
    if not _reference_accepts(request):
        raise AssertionError(f"read case {case.name}: the reference refuses its own signature")
    return {
        "name": case.name,
        "key": case.key,
        "key_id": key_id,
        "method": case.method,
        "path": case.path,
        "body_hex": case.body.hex(),
        "ts": case.ts,
        "canonical": canonical.decode("ascii"),
        "signature": b64url_encode(signature),
        "authorization": authorization,
        "tampered": [_tampered(name, tamper(request)) for name, tamper in TAMPERINGS],
    }


def _tampered(name: str, request: Request) -> Json:
    valid = _reference_accepts(request)
    if valid:
        raise AssertionError(f"read tampering {name}: the reference accepts it")
    return {
        "name": name,
        "method": request.method,
        "path": request.path,
        "body_hex": request.body.hex(),
        "authorization": request.authorization,
        "valid": valid,
    }


def _reference_accepts(request: Request) -> bool:
    """The server's verdict, with the registry holding the golden keys under their ids."""
    credential = parse_authorization(request.authorization)
    registered = {_key_id(name): name for name in ("key-1", "key-2", "key-3")}
    name = registered.get(credential.key_id)
    if name is None:
        return False
    public_key = public_key_bytes(golden_key(name).public_key())
    return verify_read(public_key, credential, request.method, request.path, request.body)


def _key_id(name: str) -> str:
    return key_id_for(golden_key(name).public_key())
