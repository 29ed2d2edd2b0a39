"""Signed reads: the canonical request string a tenant key signs to read, and its header.

canonical = "geoledger-read-v1" LF METHOD LF path LF hex(SHA-256(body)) LF ts LF key_id, ASCII;
the path exactly as sent (percent-encoded, without a query), ts in Unix seconds. The signature is
Ed25519 over those bytes, sent as `Authorization: GEOLEDGER-ED25519 key_id=..., ts=..., sig=...`
(unpadded base64url). The server accepts ts within its `[reads] max_skew_s` (default 300 s).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

READ_SIGNING_VERSION = "geoledger-read-v1"
AUTH_SCHEME = "GEOLEDGER-ED25519"

_METHOD = re.compile(r"[A-Z]+")
_PATH = re.compile(r"/[\x21\x22\x24-\x3e\x40-\x7e]*")
_KEY_ID = re.compile(r"[\x21-\x2b\x2d-\x7e]+")


def read_signing_string(method: str, path: str, body: bytes, ts: int, key_id: str) -> bytes:
    """The canonical request string of a read. Raises ValueError for a method that is not
    upper-case letters, a path that is not percent-encoded visible ASCII starting with '/' (or
    holds '?' or '#'), a negative ts, or a key id with ',' or non-visible characters."""
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


def sign_read(
    private_key: Ed25519PrivateKey,
    key_id: str,
    method: str,
    path: str,
    body: bytes = b"",
    ts: int | None = None,
) -> str:
    """The `Authorization` header value signing this request with `private_key` (registered as
    `key_id`); `ts` defaults to now."""
    when = int(time.time()) if ts is None else ts
    signature = private_key.sign(read_signing_string(method, path, body, when, key_id))
    sig = base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")
    return f"{AUTH_SCHEME} key_id={key_id}, ts={when}, sig={sig}"
