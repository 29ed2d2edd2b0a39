"""Golden vectors for the client SDKs, computed by the server's reference code.

`build_vectors()` returns the document committed as `sdk/golden/vectors.json` (regenerate it with
`geoledger sdk vectors`). Every value in it comes from `ledger.canonical`, `ledger.signing` and
`ledger.keys`, so an SDK that reproduces it byte for byte signs exactly as the server verifies.

Document layout (format 1):
- `keys`: fixed test keys. seed = SHA-256(b"geoledger-golden-key-<n>"); the PEM is what
  `geoledger keys create` writes. These keys are public test data and must never sign real events.
- `numbers`: IEEE 754 doubles (big-endian hex) and their RFC 8785 §3.2.2.3 text.
- `cases`: envelopes with their canonical bytes, signing input, signature, content digest, and
  `tampered` variants with the expected verification result. A case whose payload is too large to
  store has `payload_recipe` instead of `envelope.payload` and stores SHA-256 digests instead of
  hex bytes; see `materialize_payload`.
- `invalid_envelopes`: envelopes the reference rejects, with the field it names.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.canonical import b64url_decode_exact, b64url_encode, canonical_bytes
from ledger.envelope import MAX_PAYLOAD_BYTES, parse_envelope, parse_signed_event
from ledger.errors import EventSchemaError
from ledger.keys import (
    key_id_for,
    private_key_from_seed,
    private_key_to_pem,
    public_key_from_b64,
    public_key_to_b64,
)
from ledger.signing import SIGNING_DOMAIN, content_digest, sign, signing_input, verify

FORMAT_VERSION = 1
GENERATED_BY = "geoledger sdk vectors"
KEY_NAMES = ("key-1", "key-2", "key-3")

Json = dict[str, Any]

# RFC 8785 Appendix B: IEEE 754 doubles and their canonical text. The expected text is asserted in
# tests/unit/test_golden_vectors.py; here only the inputs are listed.
RFC8785_APPENDIX_B_DOUBLES = (
    "0000000000000000",
    "8000000000000000",
    "0000000000000001",
    "8000000000000001",
    "7fefffffffffffff",
    "ffefffffffffffff",
    "4340000000000000",
    "c340000000000000",
    "4430000000000000",
    "44b52d02c7e14af5",
    "44b52d02c7e14af6",
    "44b52d02c7e14af7",
    "444b1ae4d6e2ef4e",
    "444b1ae4d6e2ef4f",
    "444b1ae4d6e2ef50",
    "3eb0c6f7a0b5ed8c",
    "3eb0c6f7a0b5ed8d",
    "41b3de4355555553",
    "41b3de4355555554",
    "41b3de4355555555",
    "41b3de4355555556",
    "41b3de4355555557",
    "becbf647612f3696",
    "43143ff3c1cb0959",
)


def build_vectors() -> Json:
    """The golden vector document (format 1). Deterministic: Ed25519 signatures are (RFC 8032
    §5.1.6) and every input below is fixed, so two runs give identical documents."""
    keys = {name: _seed_key(name) for name in KEY_NAMES}
    return {
        "generated_by": GENERATED_BY,
        "format": FORMAT_VERSION,
        "description": (
            "Golden vectors of the geoledger event signature contract, computed by the server's "
            "reference code (ledger/). signing input = signing_domain + JCS(envelope) (RFC 8785); "
            "signature = Ed25519 (RFC 8032) over it, unpadded base64url; content digest = "
            "SHA-256(JCS(envelope)). Keys are public test data."
        ),
        "signing_domain_hex": SIGNING_DOMAIN.hex(),
        "max_payload_bytes": MAX_PAYLOAD_BYTES,
        "payload_recipes": {
            "repeat": (
                "payload = {recipe.key: recipe.char repeated recipe.count times}; "
                "canonical_sha256 and signing_input_sha256 replace the hex fields"
            )
        },
        "keys": [_key_entry(name, key) for name, key in keys.items()],
        "numbers": _number_vectors(),
        "cases": [_case_entry(index, spec, keys) for index, spec in enumerate(_case_specs())],
        "invalid_envelopes": [_invalid_entry(spec) for spec in _invalid_specs()],
    }


def render_vectors() -> str:
    """The document as committed: 2-space indented JSON, ASCII only, trailing newline."""
    return json.dumps(build_vectors(), indent=2, ensure_ascii=True) + "\n"


def materialize_payload(recipe: Json) -> Json:
    """The payload a `repeat` recipe stands for: `{key: char * count}`."""
    if recipe.get("kind") != "repeat":
        raise ValueError(f"expected a recipe of kind 'repeat', got {recipe.get('kind')!r}")
    return {recipe["key"]: recipe["char"] * recipe["count"]}


# ---- keys -----------------------------------------------------------------------------------


def _seed_key(name: str) -> Ed25519PrivateKey:
    return private_key_from_seed(_seed(name))


def _seed(name: str) -> bytes:
    return hashlib.sha256(f"geoledger-golden-{name}".encode()).digest()


def _key_entry(name: str, key: Ed25519PrivateKey) -> Json:
    public = key.public_key()
    return {
        "name": name,
        "seed_recipe": f'sha256(b"geoledger-golden-{name}")',
        "seed_hex": _seed(name).hex(),
        "private_key_pem": private_key_to_pem(key).decode("ascii"),
        "public_key": public_key_to_b64(public),
        "key_id": key_id_for(public),
    }


# ---- numbers --------------------------------------------------------------------------------


def _number_vectors() -> list[Json]:
    """RFC 8785 Appendix B, then deterministic pseudo-random doubles across the whole range and
    across the decimal exponents where the ECMAScript format switches notation (1e-7 .. 1e21)."""
    bit_patterns = list(RFC8785_APPENDIX_B_DOUBLES)
    for counter in range(64):
        word = hashlib.sha256(f"geoledger-golden-double-{counter}".encode()).digest()[:8]
        if (int.from_bytes(word, "big") >> 52) & 0x7FF != 0x7FF:  # skip NaN and infinities
            bit_patterns.append(word.hex())
    for counter in range(64):
        word = hashlib.sha256(f"geoledger-golden-decimal-{counter}".encode()).digest()
        mantissa = int.from_bytes(word[:8], "big") % 10**17
        exponent = -25 + word[8] % 45  # 10**-25 .. 10**19 times a 17-digit mantissa
        value = float(f"{'-' if word[9] & 1 else ''}{mantissa}e{exponent}")
        bit_patterns.append(struct.pack(">d", value).hex())
    return [
        {"ieee754": bits, "canonical": canonical_bytes(_double(bits)).decode("ascii")}
        for bits in bit_patterns
    ]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


# ---- signed cases ---------------------------------------------------------------------------

_BASE = {
    "tenant_id": "acme",
    "occurred_at": "2025-01-31T12:00:00Z",
    "type": "order.created",
}


def _case_specs() -> list[Json]:
    """Each spec: name, description, key, envelope fields (key_id filled in from the key)."""
    specs: list[Json] = []

    def case(
        name: str, description: str, payload: Json | None, key: str = "key-1", **fields: Any
    ) -> None:
        spec: Json = {"name": name, "description": description, "key": key}
        spec["envelope"] = {**_BASE, "event_id": f"evt-{len(specs) + 1:03d}", **fields}
        if payload is not None:
            spec["envelope"]["payload"] = payload
        specs.append(spec)

    case("empty_payload", "the smallest payload, {}", {})
    case(
        "simple_order",
        "a typical small payload",
        {"order_id": "A-1001", "amount": 4250, "currency": "EUR", "paid": True},
    )
    case(
        "nested_objects_and_arrays",
        "objects in arrays in objects; keys sorted at every level, array order kept",
        {
            "z": {"b": [3, 2, 1], "a": {"y": [], "x": {}}},
            "a": [{"k": 2, "j": 1}, [[], [{}]], {"": None}],
            "m": [True, False, None, "", 0],
        },
    )
    case(
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
    )
    case(
        "key_order_ascii",
        "empty key first, upper case before lower case, digits as strings",
        {"b": 1, "a": 2, "B": 3, "A": 4, "aa": 5, "ab": 6, "": 7, "10": 8, "2": 9, "1": 10},
    )
    case(
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
    )
    case(
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
    )
    case(
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
    )
    case(
        "floats_at_2_pow_53",
        "doubles at and above 2**53 are written as integers while below 1e21",
        {
            "two_pow_53": 9007199254740992.0,
            "two_pow_53_plus_2": 9007199254740994.0,
            "two_pow_54": 18014398509481984.0,
            "minus_two_pow_53": -9007199254740992.0,
        },
    )
    case(
        "negative_zero_and_integral_doubles",
        "-0.0 is written 0; doubles with no fraction drop '.0'",
        {"negative_zero": -0.0, "zero": 0.0, "one": 1.0, "minus_two": -2.0, "list": [-0.0, 0.0]},
    )
    case(
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
    )
    case(
        "rfc8785_numbers",
        "the number examples of RFC 8785 §3.2.2.3 and Appendix B",
        {
            "values_json": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
            "appendix_b": [
                _double(bits) for bits in RFC8785_APPENDIX_B_DOUBLES if bits[0] not in "8c"
            ],
            "appendix_b_negative": [
                _double(bits) for bits in RFC8785_APPENDIX_B_DOUBLES if bits[0] in "8c"
            ],
        },
    )
    case(
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
    )
    case(
        "number_like_strings",
        "strings that look like numbers stay strings",
        {"a": "1e21", "b": "-0", "c": "0.10", "d": "NaN", "e": "Infinity", "f": "007"},
    )
    case(
        "literals",
        "true, false and null at the top level of the payload and in arrays",
        {"t": True, "f": False, "n": None, "all": [None, True, False]},
    )
    case(
        "empty_strings_and_containers",
        "empty key, empty string, empty array and object",
        {"": "", "e": [], "o": {}, "nested": {"": {"": []}}},
    )
    case(
        "deep_nesting",
        "32 nested objects and arrays",
        _nest(32),
    )
    case(
        "array_of_numbers",
        "a longer array: 0..199 and their halves",
        {"ints": list(range(200)), "halves": [n / 2 for n in range(-50, 50)]},
    )
    case(
        "long_string",
        "a 2000-character string mixing 1-, 2-, 3- and 4-byte UTF-8",
        {"text": ("a\u00e9\u20ac\U0001f600" * 500)},
    )
    case(
        "printable_ascii",
        "every printable ASCII character in one string and as keys",
        {
            "all": "".join(chr(code) for code in range(0x20, 0x7F)),
            **{chr(code): code for code in range(0x21, 0x7F, 7)},
        },
    )
    case(
        "same_keys_different_order",
        "two objects with the same members in different order canonicalize alike",
        {"first": {"x": 1, "y": 2, "z": 3}, "second": {"z": 3, "y": 2, "x": 1}},
    )
    case(
        "occurred_at_offset",
        "occurred_at is signed verbatim: a +05:30 offset is not normalized to UTC",
        {"n": 1},
        occurred_at="2025-01-31T17:30:00+05:30",
    )
    case(
        "occurred_at_nanoseconds",
        "nine fraction digits, the most the server accepts",
        {"n": 2},
        occurred_at="2025-01-31T12:00:00.123456789Z",
    )
    case(
        "occurred_at_lowercase",
        "RFC 3339 §5.6 allows lower-case t and z; they are kept as written",
        {"n": 3},
        occurred_at="2025-01-31t12:00:00.5z",
    )
    case(
        "occurred_at_leap_second",
        "a leap second (:60) is a valid RFC 3339 time",
        {"n": 4},
        occurred_at="2016-12-31T23:59:60Z",
    )
    case(
        "occurred_at_negative_offset",
        "negative offset with fraction",
        {"n": 5},
        occurred_at="1999-12-31T23:59:59.999-08:00",
    )
    case(
        "type_unicode",
        "type may hold any non-control characters",
        {"n": 6},
        type="commande.cr\u00e9\u00e9e \u2713 \U0001f4e6",
    )
    case(
        "type_max_length",
        "type of exactly 128 code points (4-byte characters count once)",
        {"n": 7},
        type="t" * 64 + "\U0001f600" * 64,
    )
    case(
        "identifier_charsets",
        "every allowed character in tenant_id and event_id",
        {"n": 8},
        tenant_id="0tenant.with_all-chars9",
        event_id="Evt:0.9_a-Z:",
    )
    case(
        "identifier_max_lengths",
        "tenant_id of 64 and event_id of 128 characters",
        {"n": 9},
        tenant_id="t" * 64,
        event_id="e" * 128,
    )
    case("second_key", "the same kind of event signed by key-2", {"n": 10}, key="key-2")
    case(
        "third_key",
        "key-3, with a payload that repeats key-1's simple_order",
        {"order_id": "A-1001", "amount": 4250, "currency": "EUR", "paid": True},
        key="key-3",
    )
    case(
        "maximal_payload_ascii",
        f"payload canonical size exactly {MAX_PAYLOAD_BYTES} bytes, one ASCII string",
        None,
        payload_recipe={"kind": "repeat", "key": "blob", "char": "x", "count": 262133},
    )
    case(
        "maximal_payload_two_byte_chars",
        f"payload of {MAX_PAYLOAD_BYTES} canonical bytes but only 131078 characters: the limit "
        "counts UTF-8 bytes",
        None,
        payload_recipe={"kind": "repeat", "key": "blobs", "char": "\u00e9", "count": 131066},
    )
    return specs


def _nest(depth: int) -> Json:
    value: Any = {"leaf": [1, "two", None]}
    for level in range(depth):
        value = {f"l{level}": value} if level % 2 else {"a": [value]}
    result: Json = value
    return result


def _case_entry(index: int, spec: Json, keys: dict[str, Ed25519PrivateKey]) -> Json:
    """Sign one spec with the reference and describe the result and its tampered variants."""
    key = keys[spec["key"]]
    public = key.public_key()
    fields = dict(spec["envelope"])
    recipe: Json | None = fields.pop("payload_recipe", None)
    fields["key_id"] = key_id_for(public)
    payload = materialize_payload(recipe) if recipe is not None else fields["payload"]
    envelope = parse_envelope({**fields, "payload": payload})
    signature = sign(key, envelope)
    canonical = canonical_bytes(envelope.envelope_dict())
    signed_input = signing_input(envelope)
    entry: Json = {
        "name": spec["name"],
        "description": spec["description"],
        "key": spec["key"],
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
    entry["valid"] = _reference_verify(
        public_key_to_b64(public), {**fields, "payload": payload}, signature
    )
    if not entry["valid"]:
        raise AssertionError(
            f"case {spec['name']}: the reference does not verify its own signature"
        )
    entry["tampered"] = _tampered(index, entry, payload, keys)
    return entry


def _tampered(
    index: int, entry: Json, payload: Json, keys: dict[str, Ed25519PrivateKey]
) -> list[Json]:
    """Variants of a signed case, each with the reference's verdict. A variant lists only what it
    changes: `envelope` fields to override, `payload_merge` (members set on the payload),
    `payload_recipe`, `signature` or `public_key`."""
    signature: str = entry["signature"]
    raw = bytearray(b64url_decode_exact(signature, 64))
    variants: list[Json] = []

    flipped = bytearray(raw)
    flipped[index % 64] ^= 1 << (index % 8)
    variants.append({"name": "flipped_signature_bit", "signature": b64url_encode(bytes(flipped))})

    if "payload_recipe" in entry:
        recipe = dict(entry["payload_recipe"])
        recipe["count"] -= 1
        variants.append({"name": "changed_payload", "payload_recipe": recipe})
    else:
        # A shallow merge into the payload keeps the variant small however large the payload is.
        flag = not payload.get("tampered", False)
        variants.append({"name": "changed_payload", "payload_merge": {"tampered": flag}})

    field = ("tenant_id", "event_id", "key_id", "occurred_at", "type")[index % 5]
    variants.append(
        {"name": f"changed_{field}", "envelope": {field: _altered(field, entry["envelope"][field])}}
    )

    other = keys["key-2" if entry["key"] != "key-2" else "key-3"].public_key()
    variants.append({"name": "wrong_key", "public_key": public_key_to_b64(other)})
    variants.append({"name": "padded_signature", "signature": signature + "=="})
    variants.append({"name": "truncated_signature", "signature": signature[:-1]})
    variants.append({"name": "extended_signature", "signature": signature + "A"})
    variants.append(
        {
            "name": "non_canonical_pad_bits",
            "signature": signature[:-1] + _pad_bits_set(signature[-1]),
        }
    )
    if "payload_recipe" not in entry and len(payload) >= 2 and entry["canonical_size"] < 1000:
        # Member order is not signed: an implementation that signs the order it was given fails.
        reordered = dict(reversed(list(payload.items())))
        variants.append({"name": "reordered_payload_members", "envelope": {"payload": reordered}})
    standard = signature.replace("-", "+").replace("_", "/")
    if standard != signature:
        variants.append({"name": "standard_base64_alphabet", "signature": standard})

    for variant in variants:
        variant["valid"] = _variant_verdict(entry, payload, variant)
    return variants


def _altered(field: str, value: str) -> str:
    if field == "occurred_at":
        return "2000-01-01T00:00:00Z" if value != "2000-01-01T00:00:00Z" else "2000-01-01T00:00:01Z"
    if field == "key_id":
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    limit = 64 if field == "tenant_id" else 128
    if len(value) < limit:
        return value + "x"
    return value[:-1] + ("x" if value[-1] != "x" else "y")


def _pad_bits_set(last: str) -> str:
    """The base64url character decoding to the same 2 data bits as `last` with non-zero pad bits
    (86 characters carry 516 bits for 512: the last character's low 4 bits are padding)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(last) | 0b0001]


def _variant_verdict(entry: Json, payload: Json, variant: Json) -> bool:
    fields = {**entry["envelope"], "payload": payload, **variant.get("envelope", {})}
    if "payload_recipe" in variant:
        fields["payload"] = materialize_payload(variant["payload_recipe"])
    if "payload_merge" in variant:
        fields["payload"] = {**payload, **variant["payload_merge"]}
    public = str(variant.get("public_key", entry["public_key"]))
    signature = str(variant.get("signature", entry["signature"]))
    return _reference_verify(public, fields, signature)


def _reference_verify(public_key_b64: str, fields: Json, signature: str) -> bool:
    """The server's verdict: a schema error (bad signature encoding) is as invalid as a bad
    signature."""
    try:
        event = parse_signed_event({**fields, "signature": signature})
    except EventSchemaError:
        return False
    return verify(public_key_from_b64(public_key_b64), event)


# ---- invalid envelopes ----------------------------------------------------------------------

_VALID: Json = {
    "tenant_id": "acme",
    "event_id": "evt-invalid",
    "key_id": "ed25519:0000000000000000",
    "occurred_at": "2025-01-31T12:00:00Z",
    "type": "order.created",
    "payload": {},
}


def _invalid_specs() -> list[Json]:
    """Envelopes that break one rule each. `typed_integers_only`: only an SDK whose JSON model
    tells integers from doubles (Python, Go) can see the problem; in JavaScript 2**53 parses to
    the same number as the valid double 9007199254740992.0."""
    specs: list[Json] = []

    def bad(name: str, **change: Any) -> None:
        specs.append({"name": name, "change": change})

    bad("tenant_id_empty", tenant_id="")
    bad("tenant_id_uppercase", tenant_id="Acme")
    bad("tenant_id_leading_dash", tenant_id="-acme")
    bad("tenant_id_leading_dot", tenant_id=".acme")
    bad("tenant_id_colon", tenant_id="acme:eu")
    bad("tenant_id_too_long", tenant_id="t" * 65)
    bad("tenant_id_non_ascii_letter", tenant_id="acm\u00e9")
    bad("tenant_id_not_string", tenant_id=7)
    bad("event_id_empty", event_id="")
    bad("event_id_too_long", event_id="e" * 129)
    bad("event_id_slash", event_id="a/b")
    bad("event_id_space", event_id="a b")
    bad("event_id_unicode_digit", event_id="evt-\u0663")
    bad("key_id_plus", key_id="ed25519:ab+cd")
    bad("key_id_empty", key_id="")
    bad("occurred_at_no_offset", occurred_at="2025-01-31T12:00:00")
    bad("occurred_at_date_only", occurred_at="2025-01-31")
    bad("occurred_at_space_separator", occurred_at="2025-01-31 12:00:00Z")
    bad("occurred_at_month_13", occurred_at="2025-13-01T00:00:00Z")
    bad("occurred_at_february_30", occurred_at="2025-02-30T00:00:00Z")
    bad("occurred_at_february_29_non_leap", occurred_at="2023-02-29T00:00:00Z")
    bad("occurred_at_hour_24", occurred_at="2025-01-31T24:00:00Z")
    bad("occurred_at_second_61", occurred_at="2025-01-31T23:59:61Z")
    bad("occurred_at_offset_hour_24", occurred_at="2025-01-31T12:00:00+24:00")
    bad("occurred_at_fraction_10_digits", occurred_at="2025-01-31T12:00:00.1234567890Z")
    bad("occurred_at_empty_fraction", occurred_at="2025-01-31T12:00:00.Z")
    bad("occurred_at_year_zero", occurred_at="0000-01-01T00:00:00Z")
    bad("occurred_at_unicode_digits", occurred_at="\u0662025-01-31T12:00:00Z")
    bad("occurred_at_trailing_newline", occurred_at="2025-01-31T12:00:00Z\n")
    bad("type_empty", type="")
    bad("type_too_long", type="t" * 129)
    bad("type_newline", type="order\ncreated")
    bad("type_nul", type="order\u0000")
    bad("type_del", type="order\u007f")
    bad("type_c1_control", type="order\u0085")
    bad("payload_array", payload=[])
    bad("payload_string", payload="{}")
    bad("payload_null", payload=None)
    bad(
        "payload_one_byte_over",
        payload_recipe={"kind": "repeat", "key": "blob", "char": "x", "count": 262134},
    )
    bad(
        "payload_over_in_bytes_not_characters",
        payload_recipe={"kind": "repeat", "key": "blobs", "char": "\u00e9", "count": 131067},
    )
    bad("payload_integer_above_safe_range", payload={"n": 2**53}, typed_integers_only=True)
    bad("payload_integer_below_safe_range", payload={"n": -(2**53)}, typed_integers_only=True)
    bad("unknown_field", extra_field="x")
    bad("missing_type", remove=["type"])
    return specs


def _invalid_entry(spec: Json) -> Json:
    """The envelope as JSON with the reference's verdict: the field its schema error names."""
    change = dict(spec["change"])
    typed_only = bool(change.pop("typed_integers_only", False))
    remove: list[str] = change.pop("remove", [])
    recipe: Json | None = change.pop("payload_recipe", None)
    fields = {**_VALID, **change}
    for name in remove:
        fields.pop(name)
    if recipe is not None:
        fields.pop("payload")
    entry: Json = {"name": spec["name"], "envelope": fields}
    if recipe is not None:
        entry["payload_recipe"] = recipe
    if typed_only:
        entry["typed_integers_only"] = True
    materialized = dict(fields)
    if recipe is not None:
        materialized["payload"] = materialize_payload(recipe)
    entry["field"] = _rejected_field(materialized, spec["name"])
    return entry


def _rejected_field(fields: Json, name: str) -> str:
    try:
        parse_envelope(fields)
    except EventSchemaError as exc:
        return exc.field
    raise AssertionError(f"invalid envelope {name}: the reference accepted it")
