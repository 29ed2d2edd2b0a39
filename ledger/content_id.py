"""Content ids of tiering objects (cold packs, zstd dictionaries): the first CONTENT_ID_BYTES bytes
of the SHA-256 (FIPS 180-4) of the object's bytes, as lowercase hex. An id names exactly one byte
string, so a write retried with the same bytes finds its object and different bytes never share
an id; a reader checks the bytes it got against the id before using them."""

from __future__ import annotations

import hashlib
import re

CONTENT_ID_BYTES = 16
"""Leading bytes of the SHA-256 an id keeps (128 bits: no accidental collision in any store)."""
CONTENT_ID_PATTERN = rf"[0-9a-f]{{{2 * CONTENT_ID_BYTES}}}"
"""Content ids, as a regular expression (without anchors)."""

_CONTENT_ID = re.compile(CONTENT_ID_PATTERN, re.ASCII)


def content_id(data: bytes) -> str:
    """The content id of `data`."""
    return hashlib.sha256(data).digest()[:CONTENT_ID_BYTES].hex()


def is_content_id(value: str) -> bool:
    """True when `value` has the form of a content id (32 lowercase hex characters)."""
    return _CONTENT_ID.fullmatch(value) is not None
