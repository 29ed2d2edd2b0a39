"""The vectors' signed `cases`: a table of envelopes, each signed by the reference with one of the
test keys, with its canonical bytes, signing input, signature, content digest and tampered
variants.

The table's order is part of the vectors: a case's default event_id (`evt-<position from 001>`)
and the tamperings it gets (tampering.py) follow from its position, so append new cases at the
end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from golden.keys import golden_key
from golden.numbers import RFC8785_APPENDIX_B_DOUBLES, double
from golden.recipes import Repeat
from golden.tampering import tampered_variants
from golden.types import Json
from golden.verdicts import reference_verify
from ledger.canonical import canonical_bytes
from ledger.envelope import MAX_PAYLOAD_BYTES, parse_envelope
from ledger.keys import key_id_for, public_key_to_b64
from ledger.signing import content_digest, sign, signing_input


@dataclass(frozen=True)
class SignedCase:
    """One envelope to sign. A `Repeat` payload is stored as its recipe (too large to store)."""

    name: str
    description: str
    payload: Json | Repeat
    key: str = "key-1"
    tenant_id: str = "acme"
    event_id: str | None = None  # None: evt-<position in SIGNED_CASES, from 001>
    occurred_at: str = "2025-01-31T12:00:00Z"
    type: str = "order.created"


def _nest(depth: int) -> Json:
    value: Any = {"leaf": [1, "two", None]}
    for level in range(depth):
        value = {f"l{level}": value} if level % 2 else {"a": [value]}
    result: Json = value
    return result


SIGNED_CASES: tuple[SignedCase, ...] = (
    SignedCase("empty_payload", "the smallest payload, {}", {}),
    SignedCase(
        "simple_order",
        "a typical small payload",
        {"order_id": "A-1001", "amount": 4250, "currency": "EUR", "paid": True},
    ),
    SignedCase(
        "nested_objects_and_arrays",
        "objects in arrays in objects; keys sorted at every level, array order kept",
        {
            "z": {"b": [3, 2, 1], "a": {"y": [], "x": {}}},
            "a": [{"k": 2, "j": 1}, [[], [{}]], {"": None}],
            "m": [True, False, None, "", 0],
        },
    ),
    SignedCase(
        "key_order_utf16",
        "keys sorted by UTF-16 code units, not code points: U+1F602 (D83D DE02) before U+FB33",
        {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f602": "Smiley",
            "\u0080": "Control\u007f",
            "\u00f6": "Latin Small Letter O With Diaeresis",
            "</script>": "Browser Challenge",
            "\n": "Newline",
        },
    ),
    SignedCase(
        "key_order_ascii",
        "empty key first, upper case before lower case, digits as strings",
        {"b": 1, "a": 2, "B": 3, "A": 4, "aa": 5, "ab": 6, "": 7, "10": 8, "2": 9, "1": 10},
    ),
    SignedCase(
        "string_escapes",
        'JCS escapes only " \\ and U+0000-U+001F (\\b \\t \\n \\f \\r short forms, others \\u00xx)',
        {
            "quote": '"',
            "backslash": "\\",
            "solidus": "/",
            "short_forms": "\b\t\n\f\r",
            "controls": "".join(chr(code) for code in range(0x20)),
            "del_and_c1": "\u007f\u0080\u0085\u009f",
            "line_separators": "\u2028\u2029",
            "html": "<a href='x'>&amp;</a>",
        },
    ),
    SignedCase(
        "unicode_text",
        "non-ASCII text is written as raw UTF-8, never normalized",
        {
            "unnormalized": "A\u030a",
            "normalized": "\u00c5",
            "french": "p\u00each\u00e9",
            "cjk": "\u65e5\u672c\u8a9e",
            "rtl": "\u05e9\u05dc\u05d5\u05dd",
            "emoji": "\U0001f602\U0001f469\u200d\U0001f4bb",
            "astral": "\U0001d11e\U00020b9f",
            "noncharacters": "\ufffe\uffff",
            "bom": "\ufeff",
        },
    ),
    SignedCase(
        "integers",
        "integers up to the IEEE 754 safe range +-(2**53 - 1)",
        {
            "zero": 0,
            "one": 1,
            "minus_one": -1,
            "int32_max": 2**31 - 1,
            "uint32_max": 2**32 - 1,
            "max_safe": 2**53 - 1,
            "min_safe": -(2**53 - 1),
            "near_max_safe": 2**53 - 2,
        },
    ),
    SignedCase(
        "floats_at_2_pow_53",
        "doubles at and above 2**53 are written as integers while below 1e21",
        {
            "two_pow_53": 9007199254740992.0,
            "two_pow_53_plus_2": 9007199254740994.0,
            "two_pow_54": 18014398509481984.0,
            "minus_two_pow_53": -9007199254740992.0,
        },
    ),
    SignedCase(
        "negative_zero_and_integral_doubles",
        "-0.0 is written 0; doubles with no fraction drop '.0'",
        {"negative_zero": -0.0, "zero": 0.0, "one": 1.0, "minus_two": -2.0, "list": [-0.0, 0.0]},
    ),
    SignedCase(
        "exponent_boundaries",
        "ECMAScript switches to exponent form at 1e21 and below 1e-6",
        {
            "1e20": 1e20,
            "1e21": 1e21,
            "1e22": 1e22,
            "1e-6": 1e-6,
            "1e-7": 1e-7,
            "1.5e-7": 1.5e-7,
            "123e18": 123e18,
            "1234e18": 1234e18,
            "max": 1.7976931348623157e308,
            "min_subnormal": 5e-324,
            "min_normal": 2.2250738585072014e-308,
            "big_negative": -1.5e300,
        },
    ),
    SignedCase(
        "rfc8785_numbers",
        "the number examples of RFC 8785 §3.2.2.3 and Appendix B",
        {
            "values_json": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
            "appendix_b": [
                double(bits) for bits in RFC8785_APPENDIX_B_DOUBLES if bits[0] not in "8c"
            ],
            "appendix_b_negative": [
                double(bits) for bits in RFC8785_APPENDIX_B_DOUBLES if bits[0] in "8c"
            ],
        },
    ),
    SignedCase(
        "decimal_fractions",
        "shortest round-trip digits of common fractions",
        {
            "tenth": 0.1,
            "sum": 0.1 + 0.2,
            "third": 1 / 3,
            "two_thirds": 2 / 3,
            "price": 19.99,
            "negative": -1.25,
            "pi": 3.141592653589793,
            "small": 0.000123,
        },
    ),
    SignedCase(
        "number_like_strings",
        "strings that look like numbers stay strings",
        {"a": "1e21", "b": "-0", "c": "0.10", "d": "NaN", "e": "Infinity", "f": "007"},
    ),
    SignedCase(
        "literals",
        "true, false and null at the top level of the payload and in arrays",
        {"t": True, "f": False, "n": None, "all": [None, True, False]},
    ),
    SignedCase(
        "empty_strings_and_containers",
        "empty key, empty string, empty array and object",
        {"": "", "e": [], "o": {}, "nested": {"": {"": []}}},
    ),
    SignedCase(
        "deep_nesting",
        "32 nested objects and arrays",
        _nest(32),
    ),
    SignedCase(
        "array_of_numbers",
        "a longer array: 0..199 and their halves",
        {"ints": list(range(200)), "halves": [n / 2 for n in range(-50, 50)]},
    ),
    SignedCase(
        "long_string",
        "a 2000-character string mixing 1-, 2-, 3- and 4-byte UTF-8",
        {"text": ("a\u00e9\u20ac\U0001f600" * 500)},
    ),
    SignedCase(
        "printable_ascii",
        "every printable ASCII character in one string and as keys",
        {
            "all": "".join(chr(code) for code in range(0x20, 0x7F)),
            **{chr(code): code for code in range(0x21, 0x7F, 7)},
        },
    ),
    SignedCase(
        "same_keys_different_order",
        "two objects with the same members in different order canonicalize alike",
        {"first": {"x": 1, "y": 2, "z": 3}, "second": {"z": 3, "y": 2, "x": 1}},
    ),
    SignedCase(
        "occurred_at_offset",
        "occurred_at is signed verbatim: a +05:30 offset is not normalized to UTC",
        {"n": 1},
        occurred_at="2025-01-31T17:30:00+05:30",
    ),
    SignedCase(
        "occurred_at_nanoseconds",
        "nine fraction digits, the most the server accepts",
        {"n": 2},
        occurred_at="2025-01-31T12:00:00.123456789Z",
    ),
    SignedCase(
        "occurred_at_lowercase",
        "RFC 3339 §5.6 allows lower-case t and z; they are kept as written",
        {"n": 3},
        occurred_at="2025-01-31t12:00:00.5z",
    ),
    SignedCase(
        "occurred_at_leap_second",
        "a leap second (:60) is a valid RFC 3339 time",
        {"n": 4},
        occurred_at="2016-12-31T23:59:60Z",
    ),
    SignedCase(
        "occurred_at_negative_offset",
        "negative offset with fraction",
        {"n": 5},
        occurred_at="1999-12-31T23:59:59.999-08:00",
    ),
    SignedCase(
        "type_unicode",
        "type may hold any non-control characters",
        {"n": 6},
        type="commande.cr\u00e9\u00e9e \u2713 \U0001f4e6",
    ),
    SignedCase(
        "type_max_length",
        "type of exactly 128 code points (4-byte characters count once)",
        {"n": 7},
        type="t" * 64 + "\U0001f600" * 64,
    ),
    SignedCase(
        "identifier_charsets",
        "every allowed character in tenant_id and event_id",
        {"n": 8},
        tenant_id="0tenant.with_all-chars9",
        event_id="Evt:0.9_a-Z:",
    ),
    SignedCase(
        "identifier_max_lengths",
        "tenant_id of 64 and event_id of 128 characters",
        {"n": 9},
        tenant_id="t" * 64,
        event_id="e" * 128,
    ),
    SignedCase("second_key", "the same kind of event signed by key-2", {"n": 10}, key="key-2"),
    SignedCase(
        "third_key",
        "key-3, with a payload that repeats key-1's simple_order",
        {"order_id": "A-1001", "amount": 4250, "currency": "EUR", "paid": True},
        key="key-3",
    ),
    SignedCase(
        "maximal_payload_ascii",
        f"payload canonical size exactly {MAX_PAYLOAD_BYTES} bytes, one ASCII string",
        Repeat("blob", "x", 262133),
    ),
    SignedCase(
        "maximal_payload_two_byte_chars",
        f"payload of {MAX_PAYLOAD_BYTES} canonical bytes but only 131078 characters: the limit "
        "counts UTF-8 bytes",
        Repeat("blobs", "\u00e9", 131066),
    ),
)


def signed_entry(index: int, case: SignedCase) -> Json:
    """Sign `case` (at `index` in SIGNED_CASES) with the reference and describe the result and
    its tampered variants. Raises AssertionError if the reference does not verify its own
    signature."""
    key = golden_key(case.key)
    public = key.public_key()
    fields: Json = {
        "tenant_id": case.tenant_id,
        "event_id": case.event_id or f"evt-{index + 1:03d}",
        "key_id": key_id_for(public),
        "occurred_at": case.occurred_at,
        "type": case.type,
    }
    recipe: Json | None = None
    if isinstance(case.payload, Repeat):
        recipe, payload = case.payload.as_json(), case.payload.payload()
    else:
        payload = fields["payload"] = case.payload
    envelope = parse_envelope({**fields, "payload": payload})
    signature = sign(key, envelope)
    canonical = canonical_bytes(envelope.envelope_dict())
    signed_input = signing_input(envelope)
    entry: Json = {
        "name": case.name,
        "description": case.description,
        "key": case.key,
        "public_key": public_key_to_b64(public),
        "key_id": fields["key_id"],
        "envelope": {name: fields[name] for name in sorted(fields)},
    }
    if recipe is None:
        entry["canonical_hex"] = canonical.hex()
        entry["signing_input_hex"] = signed_input.hex()
    else:
        entry["payload_recipe"] = recipe
        entry["canonical_sha256"] = hashlib.sha256(canonical).hexdigest()
        entry["signing_input_sha256"] = hashlib.sha256(signed_input).hexdigest()
    entry["canonical_size"] = len(canonical)
    entry["payload_canonical_size"] = len(canonical_bytes(payload))
    entry["signature"] = signature
    entry["content_digest_hex"] = content_digest(envelope).hex()
    entry["valid"] = reference_verify(
        public_key_to_b64(public), {**fields, "payload": payload}, signature
    )
    if not entry["valid"]:
        raise AssertionError(f"case {case.name}: the reference does not verify its own signature")
    entry["tampered"] = tampered_variants(index, entry, payload)
    return entry
