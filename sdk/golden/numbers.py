"""The vectors' `numbers`: IEEE 754 doubles (big-endian hex) and their RFC 8785 §3.2.2.3 text."""

from __future__ import annotations

import hashlib
import struct

from golden.types import Json
from ledger.canonical import canonical_bytes

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


def number_vectors() -> list[Json]:
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
        {"ieee754": bits, "canonical": canonical_bytes(double(bits)).decode("ascii")}
        for bits in bit_patterns
    ]


def double(bits: str) -> float:
    """The IEEE 754 double whose big-endian bytes are the hex `bits`."""
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value
