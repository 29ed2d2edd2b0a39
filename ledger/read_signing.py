"""Signed reads: the canonical request string a tenant key signs to read, and its header.

canonical request = "geoledger-read-v1\\n" METHOD "\\n" path "\\n" hex(SHA-256(body)) "\\n" ts
"\\n" key_id, ASCII, no trailing newline; the path as sent on the wire (percent-encoded, without
the query string), ts in whole Unix seconds. The signature is Ed25519 (RFC 8032 §5.1.6) over
those bytes, sent as one header:

    Authorization: GEOLEDGER-ED25519 key_id=<key id>, ts=<unix seconds>, sig=<unpadded base64url>

Its first line keeps a read signature from ever verifying as an event (whose signing input starts
"geoledger.event.v1\\x00") and lets a future request format change without ambiguity.
docs/DECISIONS.md, "Authenticated reads", says why and what the server checks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.canonical import b64url_decode_exact, b64url_encode
from ledger.errors import CanonicalFormError, ReadCredentialError
from ledger.signing import verify_signature

READ_SIGNING_VERSION = "geoledger-read-v1"
AUTH_SCHEME = "GEOLEDGER-ED25519"
SIGNATURE_BYTES = 64

_METHOD = re.compile(r"[A-Z]+")
# A path as sent: starts with '/', visible ASCII without '?' and '#' (those end the path).
_PATH = re.compile(r"/[\x21\x22\x24-\x3e\x40-\x7e]*")
# What may stand in the header between `key_id=` and the next comma.
_KEY_ID = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_HEADER = re.compile(
    AUTH_SCHEME + r" +key_id=(?P<key_id>[^,\s]+) *, *ts=(?P<ts>[0-9]{1,12}) *, *sig=(?P<sig>\S+)"
)


@dataclass(frozen=True)
class ReadCredential:
    """What an `Authorization: GEOLEDGER-ED25519 ...` header carries."""

    key_id: str
    ts: int
    signature: bytes


def read_signing_string(method: str, path: str, body: bytes, ts: int, key_id: str) -> bytes:
    """The canonical request string (module docstring) for these request parts.

    Requires `method` upper-case letters, `path` a percent-encoded path of visible ASCII starting
    with '/' and holding no '?' or '#', `ts` >= 0 and `key_id` visible ASCII without ','; raises
    ValueError otherwise, so no two different requests can share one string.
    """
    if not _METHOD.fullmatch(method):
        raise ValueError(f"method: expected upper-case letters, got {method!r}")
    if not _PATH.fullmatch(path):
        raise ValueError(f"path: expected a percent-encoded path starting with '/', got {path!r}")
    if ts < 0:
        raise ValueError(f"ts: expected Unix seconds >= 0, got {ts}")
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"key_id: expected visible ASCII without ',', got {key_id!r}")
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((READ_SIGNING_VERSION, method, path, digest, str(ts), key_id)).encode("ascii")


def authorization_header(key_id: str, ts: int, signature: bytes) -> str:
    """The `Authorization` header value carrying `signature` by `key_id` at `ts`."""
    return f"{AUTH_SCHEME} key_id={key_id}, ts={ts}, sig={b64url_encode(signature)}"


def sign_read(
    private_key: Ed25519PrivateKey, key_id: str, method: str, path: str, body: bytes, ts: int
) -> str:
    """The `Authorization` header value that signs this request with `private_key` (registered
    as `key_id`) at `ts`. Raises ValueError as `read_signing_string` does."""
    signature = private_key.sign(read_signing_string(method, path, body, ts, key_id))
    return authorization_header(key_id, ts, signature)


def parse_authorization(value: str) -> ReadCredential:
    """The key id, timestamp and signature an `Authorization` header value carries.

    Raises ReadCredentialError naming what is wrong: another scheme, a missing or misplaced
    parameter (the order is key_id, ts, sig), or a signature that is not 86 canonical unpadded
    base64url characters.
    """
    if not value.startswith(AUTH_SCHEME + " "):
        raise ReadCredentialError(
            f"expected the {AUTH_SCHEME} scheme, got {value.split(' ', 1)[0][:40]!r}"
        )
    found = _HEADER.fullmatch(value.strip())
    if found is None:
        raise ReadCredentialError(
            f"expected '{AUTH_SCHEME} key_id=<key id>, ts=<unix seconds>, sig=<base64url>'"
        )
    try:
        signature = b64url_decode_exact(found["sig"], SIGNATURE_BYTES)
    except CanonicalFormError as exc:
        raise ReadCredentialError(f"sig: {exc}") from None
    return ReadCredential(found["key_id"], int(found["ts"]), signature)


def verify_read(
    public_key: bytes, credential: ReadCredential, method: str, path: str, body: bytes
) -> bool:
    """True when `credential`'s signature verifies under `public_key` (32 raw bytes) for this
    request; False, never an exception, otherwise (a path or method no signer could have signed
    included). Whether the key may read is the caller's question."""
    try:
        message = read_signing_string(method, path, body, credential.ts, credential.key_id)
    except ValueError:
        return False
    return verify_signature(public_key, credential.signature, message)
