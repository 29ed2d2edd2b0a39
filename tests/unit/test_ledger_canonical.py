"""RFC 8785 canonical JSON and canonical unpadded base64url."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from ledger.canonical import b64url_decode_exact, b64url_encode, canonical_bytes
from ledger.errors import CanonicalFormError
from tests.support.rfc8785_vectors import RFC8785_APPENDIX_B

JCS_VECTORS = Path("/work/shared/vectors/jcs")
JCS_VECTOR_NAMES = sorted(path.name for path in (JCS_VECTORS / "input").glob("*.json"))


def test_jcs_vector_set_is_present() -> None:
    # An empty parametrization would pass silently; insist on the six files of RFC 8785's test data.
    assert len(JCS_VECTOR_NAMES) >= 6, f"expected JCS vectors under {JCS_VECTORS}"


@pytest.mark.parametrize("name", JCS_VECTOR_NAMES)
def test_jcs_vectors_from_the_reference_implementation(name: str) -> None:
    """Input/output pairs of cyberphone/json-canonicalization (testdata), the RFC's own set."""
    value = json.loads((JCS_VECTORS / "input" / name).read_text(encoding="utf-8"))
    expected = (JCS_VECTORS / "output" / name).read_bytes()
    # The output files hold the canonical bytes only: JCS emits no trailing newline, and neither
    # do they. Should one ever gain a newline this fails instead of being silently stripped.
    assert not expected.endswith(b"\n")
    assert canonical_bytes(value) == expected


# The same appendix: values JCS must refuse.
RFC8785_APPENDIX_B_ERRORS = ["7fffffffffffffff", "7ff0000000000000"]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


@pytest.mark.parametrize(("bits", "expected"), RFC8785_APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    assert canonical_bytes(_double(bits)) == expected.encode()


@pytest.mark.parametrize("bits", RFC8785_APPENDIX_B_ERRORS)
def test_rfc8785_appendix_b_nan_and_infinity_are_errors(bits: str) -> None:
    with pytest.raises(CanonicalFormError):
        canonical_bytes(_double(bits))


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # RFC 8785 §3.2.3: U+1F600 is the surrogate pair D83D DE00, which sorts below U+FB33 in UTF-16
    # although its code point is larger.
    assert canonical_bytes({"\ufb33": 1, "\U0001f600": 2}) == '{"😀":2,"דּ":1}'.encode()


def test_integers_in_the_exact_double_range_are_written_as_integers() -> None:
    assert canonical_bytes([2**53 - 1, -(2**53 - 1), 0, -0.0, 1.0]) == (
        b"[9007199254740991,-9007199254740991,0,0,1]"
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (2**53, "integer above 2**53 - 1 would lose precision as a double"),
        (-(2**53), "integer below -(2**53 - 1)"),
        (math.nan, "NaN"),
        (math.inf, "infinity"),
        (-math.inf, "negative infinity"),
        ({1: "a"}, "non-string key"),
        ({"k": "\ud800"}, "lone surrogate in a string"),
        ({"\udc00": 1}, "lone surrogate in a key"),
        ({"a": 1, "\udc00": 1}, "lone surrogate in a key among others"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (object(), "arbitrary object"),
    ],
)
def test_values_without_a_canonical_form_are_rejected(value: object, why: str) -> None:
    with pytest.raises(CanonicalFormError):
        canonical_bytes(value)


def test_nesting_beyond_the_recursion_limit_is_an_error_not_a_crash() -> None:
    deep: list[object] = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(CanonicalFormError, match="nested"):
        canonical_bytes(deep)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 31, 32, 33, 64])
def test_b64url_round_trip(size: int) -> None:
    data = bytes(range(256))[:size]
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode_exact(text, size) == data


# RFC 4648 §10 test vectors (base64), in the URL-safe alphabet and without padding.
RFC4648_VECTORS = [
    (b"", ""),
    (b"f", "Zg"),
    (b"fo", "Zm8"),
    (b"foo", "Zm9v"),
    (b"foob", "Zm9vYg"),
    (b"fooba", "Zm9vYmE"),
    (b"foobar", "Zm9vYmFy"),
]


@pytest.mark.parametrize(("data", "text"), RFC4648_VECTORS)
def test_b64url_rfc4648_vectors(data: bytes, text: str) -> None:
    assert b64url_encode(data) == text
    assert b64url_decode_exact(text, len(data)) == data


def test_b64url_uses_the_url_safe_alphabet() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"


@pytest.mark.parametrize(
    ("text", "size", "why"),
    [
        ("Zm8=", 2, "padding"),
        ("Zg==", 1, "double padding"),
        ("Zm9", 3, "too short"),
        ("Zm9vY", 3, "too long"),
        ("+_8", 2, "standard alphabet '+'"),
        ("-/8", 2, "standard alphabet '/'"),
        ("Zh", 1, "non-zero pad bits (decodes to b'f' leniently)"),
        ("Zm9", 2, "non-zero pad bits in the last of three"),
        ("Zm 9", 3, "whitespace"),
        ("Zm9\n", 3, "trailing newline"),
        ("Zm\u0669v", 3, "non-ASCII digit"),
    ],
)
def test_b64url_strict_decoder_rejects(text: str, size: int, why: str) -> None:
    with pytest.raises(CanonicalFormError):
        b64url_decode_exact(text, size)


def test_b64url_negative_size_is_a_precondition_violation() -> None:
    with pytest.raises(ValueError, match="size >= 0"):
        b64url_decode_exact("", -1)
