"""RFC 8785 JSON Canonicalization Scheme (JCS), the byte form every signature covers."""

from __future__ import annotations

from typing import Any

import rfc8785

from geoledger_sdk.errors import CanonicalizationError


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    Requires: `value` is built from dict (str keys), list, str, int, float, bool and None;
    integers within +/-(2**53 - 1) (RFC 8785 section 3.2.2.3 writes numbers as IEEE 754 doubles,
    so larger integers would silently change); no NaN or infinity; strings valid Unicode (no lone
    surrogates).
    """
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"expected a JCS-representable JSON value: {exc}") from exc
