"""Payloads whose RFC 8785 form msgspec writes itself, recognised while they are decoded.

RFC 8785 (§3.2.2, §3.2.3) and msgspec's encoder with sorted keys write the same bytes for JSON
values made only of null, booleans, integers within +-(2**53 - 1), strings (from a JSON decoder,
so without lone surrogates) and arrays and objects of those, as long as no member name holds a
character at or above U+E000 (there UTF-16 order, which JCS sorts by, differs from code point
order). `PlainPayload` is that set of values as a msgspec type, nested up to `PLAIN_DEPTH`
levels: a payload the decoder accepts as `PlainPayload` is canonicalized by msgspec in C; any
other (a float, a large integer, deeper nesting) goes the general way
(`ledger.canonical.canonical_bytes`), and so does one with a member name holding a character at
or above U+E000 (found by a scan of the encoded bytes, then of the names only if the bytes hold
one: a pattern on every member name would cost the decoder more).
tests/fuzz holds both ways to the same bytes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Union

import msgspec

PLAIN_DEPTH: Final = 8
"""Containers nested deeper than this inside a payload take the general way."""

_MAX_SAFE_INTEGER: Final = 2**53 - 1

_SafeInt = Annotated[int, msgspec.Meta(ge=-_MAX_SAFE_INTEGER, le=_MAX_SAFE_INTEGER)]
# UTF-8 lead bytes of U+E000 and above: below, code point order and UTF-16 order agree.
_AT_OR_ABOVE_E000 = re.compile(rb"[\xee-\xf4]")


def _plain_type(depth: int) -> Any:
    """The msgspec type of plain JSON values with at most `depth` levels of containers."""
    # Built at run time from type objects: the generics are subscripted through Any.
    union: Any = Union
    array: Any = list
    mapping: Any = dict
    scalars: tuple[Any, ...] = (None, bool, _SafeInt, str)
    if depth == 0:
        return union[scalars]
    inner = _plain_type(depth - 1)
    return union[(*scalars, array[inner], mapping[str, inner])]


_mapping: Any = dict
PlainPayload: Any = _mapping[str, _plain_type(PLAIN_DEPTH - 1)]
"""A payload object (one level) holding plain values (the rest of the levels)."""

_ENCODER: Final = msgspec.json.Encoder(order="sorted")


def plain_canonical_bytes(payload: dict[str, Any]) -> bytes | None:
    """RFC 8785 form of a payload decoded as `PlainPayload` (precondition: nothing else), or
    None when a member name holds a character at or above U+E000 and needs the general way."""
    encoded = _ENCODER.encode(payload)
    if _AT_OR_ABOVE_E000.search(encoded) and not _names_below_e000(payload):
        return None
    return encoded


def _names_below_e000(payload: dict[str, Any]) -> bool:
    """True when no member name at any level holds a character at or above U+E000. Only run
    when the bytes hold one somewhere (an emoji in a value, usually): the walk costs more than
    the scan."""
    todo: list[Any] = [payload]
    while todo:
        node = todo.pop()
        items = node.values() if type(node) is dict else node
        if type(node) is dict and any(not key.isascii() and max(key) >= "\ue000" for key in node):
            return False
        todo.extend(item for item in items if type(item) is dict or type(item) is list)
    return True
