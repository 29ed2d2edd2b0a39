"""C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint) and Ed25519
cosignatures (c2sp.org/tlog-cosignature), as far as verifying a receipt's checkpoint needs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from geoledger_sdk.errors import KeyFormatError

ED25519_TYPE = 0x01
COSIGNATURE_TYPE = 0x04
_SIGNATURE_LINE = re.compile("\u2014 " + r"([^\s+]+) ([A-Za-z0-9+/=]+)\n")
_KEY_NAME = re.compile(r"[^\s+]+")
_SIZE = re.compile(r"0|[1-9][0-9]*")
_TIMESTAMP = struct.Struct(">Q")


def strict_b64decode(text: str) -> bytes | None:
    """RFC 4648 section 4 base64 in its one canonical (padded) form, else None."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None


def _key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


@dataclass(frozen=True)
class NoteKey:
    """A verifier key "<name>+<hex key id>+base64(type || 32-byte Ed25519 key)"."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str, signature_type: int, what: str) -> NoteKey:
        """Read a vkey of `signature_type`; raises KeyFormatError naming `what`."""
        parts = text.split("+", 2)
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise KeyFormatError(f"{what}: expected name+hex8+base64, got {text!r}")
        name, material = parts[0], strict_b64decode(parts[2])
        if not _KEY_NAME.fullmatch(name):
            raise KeyFormatError(f"{what}: expected a key name without spaces or '+'")
        if material is None or len(material) != 33 or material[0] != signature_type:
            raise KeyFormatError(
                f"{what}: expected base64 of the type byte {signature_type:#04x} and 32 key bytes"
            )
        key_id = _key_id(name, signature_type, material[1:])
        if key_id.hex() != parts[1]:
            raise KeyFormatError(f"{what}: the key id does not match the name and key")
        return cls(name, key_id, Ed25519PublicKey.from_public_bytes(material[1:]))

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """RFC 8032 section 5.1.7 Ed25519 verification."""
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SignatureLine:
    """One note signature line: key name, 4-byte key id, signature bytes."""

    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[SignatureLine]] | str:
    """(text, signature lines) of a signed note, or what is malformed about it."""
    if any(c < " " and c != "\n" for c in note):
        return "expected no control characters other than newline"
    cut = note.rfind("\n\n")
    if cut < 0:
        return "expected a blank line between the text and the signatures"
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        return "expected signature lines ending in a newline"
    lines: list[SignatureLine] = []
    for line in dict.fromkeys(block.splitlines(keepends=True)):  # identical lines count once
        match = _SIGNATURE_LINE.fullmatch(line)
        raw = strict_b64decode(match[2]) if match else None
        if match is None or raw is None or len(raw) <= 4:
            return f"expected a signature line '\u2014 name base64', got {line!r}"
        lines.append(SignatureLine(match[1], raw[:4], raw[4:]))
    return text, lines


def parse_checkpoint(text: str) -> tuple[str, int, bytes] | str:
    """(origin, size, root hash) of checkpoint note text, or what is malformed about it."""
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        return f"expected origin, size and root lines, got {len(lines)} lines"
    origin, size, root_text = lines[:3]
    root = strict_b64decode(root_text)
    if not origin:
        return "expected an origin line"
    if not _SIZE.fullmatch(size):
        return f"expected a decimal tree size without leading zeros, got {size!r}"
    if root is None or len(root) != 32:
        return f"expected the base64 of a 32-byte root hash, got {root_text!r}"
    if any(not line for line in lines[3:]):
        return "expected non-empty extension lines"
    return origin, int(size), root


def cosignature_valid(key: NoteKey, text: str, signature: bytes) -> bool:
    """tlog-cosignature v1: `signature` is a big-endian u64 timestamp and an Ed25519 signature
    of "cosignature/v1\\ntime <timestamp>\\n" followed by the checkpoint text."""
    if len(signature) != _TIMESTAMP.size + 64:
        return False
    (timestamp,) = _TIMESTAMP.unpack(signature[: _TIMESTAMP.size])
    if timestamp >= 2**63:
        return False
    message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
    return key.verifies(signature[_TIMESTAMP.size :], message)
