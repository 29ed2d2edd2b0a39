"""Canonical byte forms: the bytes that are signed and hashed must not depend on who wrote them.

Two encodings live here: RFC 8785 JSON Canonicalization Scheme (JCS) for every JSON value we sign,
hash or store, and unpadded base64url (RFC 4648 §5) in its canonical form (§3.5) for signatures and
raw keys.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any, cast

import rfc8785

from ledger.errors import CanonicalFormError

_B64URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_MAX_SAFE_INTEGER = 2**53 - 1
_MAX_PLAIN_CONTAINERS = 1_000_000
# The standard library's C encoder with these options writes exactly the RFC 8785 form of values
# made only of str-keyed dicts, lists, str, int (in the safe range), bool and None: the same
# separators, the same minimal escapes (\b \t \n \f \r \" \\ and \u00xx in lower case for
# the other controls), UTF-8 left as is, keys sorted by code point. The two orders agree unless a
# key holds a character at or above U+E000 (UTF-16 sorts those after surrogate pairs); `_plain`
# sends such keys, floats (ECMAScript number form) and everything else to the reference
# implementation.
_PLAIN_JSON = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)
_json_string = json.encoder.encode_basestring


def canonical_bytes(value: object) -> bytes:
    """Serialize a JSON value as RFC 8785 (JCS) §3.2: sorted keys (UTF-16 code units), ECMAScript
    number form (§3.2.2.3), minimal string escaping, UTF-8, no whitespace, no trailing newline.

    Requires `value` to be built from dict (str keys), list, tuple, str, int, float, bool, None.
    Raises CanonicalFormError for NaN or infinity, integers outside +-(2**53 - 1) (JCS numbers are
    IEEE 754 doubles, so larger integers would silently lose precision), non-string keys, strings
    that are not valid Unicode (lone surrogates), other types, and nesting deeper than the
    interpreter's recursion limit.
    """
    if type(value) is str:
        try:
            # The C encoder's string form is the RFC 8785 §3.2.2.2 one (see _PLAIN_JSON).
            return _json_string(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: the reference implementation names the problem
    elif _plain(value):
        try:
            return _PLAIN_JSON.encode(value).encode("utf-8")
        except (UnicodeEncodeError, RecursionError, ValueError):
            pass  # a lone surrogate, say: the reference implementation names the problem
    try:
        return rfc8785.dumps(cast(Any, value))
    except RecursionError:
        raise CanonicalFormError(
            "expected a JSON value nested less deeply than the recursion limit, got deeper nesting"
        ) from None
    except ValueError as exc:  # rfc8785.CanonicalizationError, and UnicodeError from key sorting
        raise CanonicalFormError(f"expected a value with an RFC 8785 form, got: {exc}") from None


def _plain(value: object) -> bool:
    """True when `value` is built only from what the C encoder writes in RFC 8785 form.

    Iterative, with a budget of containers: a self-referencing value (which has no JSON form)
    exhausts the budget and goes to the reference implementation, which reports it.
    """
    todo = [value]
    budget = _MAX_PLAIN_CONTAINERS
    while todo:
        budget -= 1
        if budget < 0:
            return False
        container = todo.pop()
        items: Iterable[object]
        if type(container) is dict:
            for key in container:
                if type(key) is not str or not (key.isascii() or max(key) < "\ue000"):
                    return False
            items = container.values()
        elif type(container) is list:
            items = container
        else:
            return _plain_scalar(container)
        for item in items:
            kind = type(item)
            if kind is dict or kind is list:
                todo.append(item)
            elif not _plain_scalar(item):
                return False
    return True


def _plain_scalar(value: object) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    return kind is int and -_MAX_SAFE_INTEGER <= cast(int, value) <= _MAX_SAFE_INTEGER


def b64url_encode(data: bytes) -> str:
    """Encode as base64url without padding, RFC 4648 §5 with the §3.2 padding omitted."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode_exact(text: str, size: int) -> bytes:
    """Decode unpadded, canonical base64url (RFC 4648 §5, §3.5) of exactly `size` bytes.

    Requires size >= 0. Raises CanonicalFormError for padding, characters outside the URL-safe
    alphabet, a length that does not encode `size` bytes, or non-zero pad bits (the one encoding a
    strict decoder accepts for those bytes is the only one we accept, so the text is canonical).
    """
    if size < 0:
        raise ValueError(f"expected size >= 0, got {size}")
    expected_chars = (size * 4 + 2) // 3
    if len(text) != expected_chars:
        raise CanonicalFormError(
            f"expected {expected_chars} base64url characters for {size} bytes, got {len(text)}"
        )
    if not _B64URL_ALPHABET.fullmatch(text):
        raise CanonicalFormError(
            f"expected only base64url characters [A-Za-z0-9_-] without '=' padding, got {text!r}"
        )
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Non-zero pad bits decode to the same bytes as the canonical text; re-encoding exposes them.
    if b64url_encode(data) != text:
        raise CanonicalFormError(f"expected canonical base64url (zero pad bits), got {text!r}")
    return data


def strict_json_loads(text: str) -> object:
    """RFC 8259 JSON as `json.loads` reads it, but refusing what two readers could read
    differently: duplicate member names (RFC 8259 §4 leaves their meaning open; `json.loads`
    keeps the last silently) and the non-JSON constants NaN and Infinity. Raises ValueError
    (json.JSONDecodeError included) saying what is wrong, RecursionError for very deep nesting."""
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"expected unique object keys, got {key!r} twice")
        obj[key] = value
    return obj


def _no_constants(name: str) -> object:
    raise ValueError(f"expected a JSON number, got {name}")
