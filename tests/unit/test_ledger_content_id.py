"""Content ids against the SHA-256 examples published with FIPS 180-2 (Appendix B), truncated to
their first 16 bytes, and the id form every reader checks."""

from __future__ import annotations

import pytest

from ledger.content_id import content_id, is_content_id

# (message, the first 16 bytes of its published SHA-256 digest)
FIPS_180_2_EXAMPLES = [
    (b"abc", "ba7816bf8f01cfea414140de5dae2223"),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039",
    ),
]


@pytest.mark.parametrize(("message", "expected"), FIPS_180_2_EXAMPLES)
def test_a_content_id_is_the_sha256_prefix(message: bytes, expected: str) -> None:
    assert content_id(message) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("ba7816bf8f01cfea414140de5dae2223", True),
        ("BA7816BF8F01CFEA414140DE5DAE2223", False),  # upper case
        ("ba7816bf8f01cfea414140de5dae222", False),  # 31 characters
        ("ba7816bf8f01cfea414140de5dae22230", False),  # 33 characters
        ("ba7816bf8f01cfea414140de5dae222g", False),  # not hex
        ("ba7816bf8f01cfea414140de5dae2223\n", False),  # trailing newline
        ("", False),
    ],
)
def test_only_32_lowercase_hex_characters_are_a_content_id(value: str, valid: bool) -> None:
    assert is_content_id(value) is valid
