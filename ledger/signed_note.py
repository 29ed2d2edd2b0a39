"""C2SP signed-note v1 (c2sp.org/signed-note): text signed by one or more keys.

A note is its text (ending in a newline), a blank line, then one signature line per signature:
"— <key name> base64(4-byte key id || signature)\\n". A key is known by the pair (name, key id);
a signature from an unknown pair is kept but ignored, one from a known pair must verify, and a
note with no verified signature is refused. Identical signature lines count once, as in
golang.org/x/mod/sumdb/note, whose published vectors the tests hold.

This module has the Ed25519 signature type (0x01); ledger/cosignature.py adds the timestamped
cosignature type (0x04) through the same `Verifier` protocol, so one `open_note` call checks a
checkpoint's log signature and its witnesses' cosignatures together.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import MalformedNoteError, UnverifiedNoteError
from ledger.keys import public_key_bytes
from ledger.signing import verify_signature

ED25519_TYPE = 0x01
KEY_ID_BYTES = 4
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
"""Signature lines a note may carry (the spec asks verifiers to accept at least 16; x/mod's 100)."""

_KEY_NAME = re.compile(r"[^\s+]+")
_SIGNATURE_LINE = re.compile(SIGNATURE_PREFIX + r"(?P<name>[^\s+]+) (?P<b64>[A-Za-z0-9+/=]+)\n")


class Signer(Protocol):
    """What signs a note: its key name and id, and a signature of the note text."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    def sign(self, text: bytes) -> bytes: ...


class Verifier(Protocol):
    """What checks one signature of a note: the key (name, id) it answers for, and `verify`."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    def verify(self, text: bytes, signature: bytes) -> bool: ...


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """C2SP signed-note key id: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[
        :KEY_ID_BYTES
    ]


def check_key_name(name: str) -> str:
    """`name` when it is a valid key name (non-empty, no Unicode space, no "+"); else raises
    MalformedNoteError."""
    if not _KEY_NAME.fullmatch(name):
        raise MalformedNoteError(f"expected a key name without spaces or '+', got {name!r}")
    return name


def decode_base64(text: str, what: str) -> bytes:
    """RFC 4648 §4 base64 in its one canonical form (padding, no stray bits); raises
    MalformedNoteError naming `what` otherwise."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedNoteError(f"{what}: expected base64, got {text!r}") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise MalformedNoteError(f"{what}: expected canonical base64, got {text!r}")
    return data


def vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key "<name>+<hex key id>+base64(0x01 || public key)" of an Ed25519 key."""
    return encode_vkey(name, ED25519_TYPE, public_key_bytes(public_key))


def encode_vkey(name: str, signature_type: int, public_key: bytes) -> str:
    """C2SP signed-note verifier key of any signature type."""
    material = base64.b64encode(bytes([signature_type]) + public_key).decode("ascii")
    return f"{check_key_name(name)}+{key_id(name, signature_type, public_key).hex()}+{material}"


def parse_vkey(text: str, signature_type: int) -> tuple[str, bytes]:
    """(name, 32-byte public key) of a verifier key of `signature_type`; raises MalformedNoteError
    for another type, a key of the wrong length, or a key id that does not match."""
    parts = text.split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise MalformedNoteError(f"expected a verifier key name+hex8+base64, got {text!r}")
    name = check_key_name(parts[0])
    material = decode_base64(parts[2], "verifier key")
    if len(material) != 33 or material[0] != signature_type:
        raise MalformedNoteError(
            f"expected a verifier key of type {signature_type:#04x} with a 32-byte key, got "
            f"{len(material)} bytes of type {material[:1].hex() or 'none'}"
        )
    if key_id(name, signature_type, material[1:]).hex() != parts[1]:
        raise MalformedNoteError(f"verifier key {text!r}: key id does not match name and key")
    return name, material[1:]


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 (type 0x01) note signer: RFC 8032 over the note text."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def key_id(self) -> bytes:
        """SHA-256(name || "\\n" || 0x01 || public key)[:4]."""
        return key_id(self.name, ED25519_TYPE, public_key_bytes(self.private_key.public_key()))

    def sign(self, text: bytes) -> bytes:
        """RFC 8032 §5.1.6 signature of the note text."""
        return self.private_key.sign(text)

    def vkey(self) -> str:
        """The verifier key others check this signer's notes with."""
        return vkey(self.name, self.private_key.public_key())


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 (type 0x01) note verifier."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_vkey(cls, text: str) -> NoteVerifier:
        """The verifier of "name+hex8+base64(0x01 || key)"; raises MalformedNoteError."""
        name, public_key = parse_vkey(text, ED25519_TYPE)
        return cls(name, key_id(name, ED25519_TYPE, public_key), public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        """RFC 8032 §5.1.7 check of `signature` over the note text."""
        return verify_signature(self.public_key, signature, text)


@dataclass(frozen=True)
class OpenedNote:
    """A note whose text a trusted key signed: the names of the keys that verified, in order,
    and the signature lines (with their newline) of keys this reader does not know."""

    text: str
    verified: list[str]
    unverified: list[str]


def signature_line(name: str, key_id_bytes: bytes, signature: bytes) -> str:
    """One note signature line, newline included."""
    encoded = base64.b64encode(key_id_bytes + signature).decode("ascii")
    return f"{SIGNATURE_PREFIX}{name} {encoded}\n"


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """The note: `text` (which must end in a newline), a blank line, one line per signer.

    Raises MalformedNoteError for text that is not a valid note text or no signer.
    """
    _check_text(text)
    if not signers:
        raise MalformedNoteError("expected at least one signer, got none")
    lines = [signature_line(s.name, s.key_id, s.sign(text.encode())) for s in signers]
    return text + "\n" + "".join(lines)


def split_note(note: str) -> tuple[str, list[str]]:
    """(text, signature lines) of a note, checked for form but not for signatures."""
    _check_characters(note)
    cut = note.rfind("\n\n")
    if cut < 0:
        raise MalformedNoteError("expected a blank line between the text and the signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("expected signature lines ending in a newline")
    lines = block.splitlines(keepends=True)
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"expected at most {MAX_SIGNATURES} signatures, got {len(lines)}")
    for line in lines:
        if not _SIGNATURE_LINE.fullmatch(line):
            raise MalformedNoteError(f"expected a signature line '— name base64', got {line!r}")
    return text, lines


def parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """(key name, key id, signature) of one signature line (with its newline)."""
    match = _SIGNATURE_LINE.fullmatch(line)
    if match is None:
        raise MalformedNoteError(f"expected a signature line '— name base64', got {line!r}")
    raw = decode_base64(match["b64"], f"signature of {match['name']}")
    if len(raw) <= KEY_ID_BYTES:
        raise MalformedNoteError(f"signature of {match['name']}: expected key id and signature")
    return match["name"], raw[:KEY_ID_BYTES], raw[KEY_ID_BYTES:]


def open_note(note: str, verifiers: Sequence[Verifier]) -> OpenedNote:
    """Check `note` against the trusted `verifiers` (C2SP signed-note §Signatures).

    Raises MalformedNoteError for a note not in the format, UnverifiedNoteError when a trusted
    key's signature fails or when no trusted key signed.
    """
    text, lines = split_note(note)
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        if (verifier.name, verifier.key_id) in known:
            raise MalformedNoteError(
                f"two verifiers for key {verifier.name}+{verifier.key_id.hex()}"
            )
        known[(verifier.name, verifier.key_id)] = verifier
    verified: list[str] = []
    unverified: list[str] = []
    for line in dict.fromkeys(lines):  # identical lines count once, order kept
        name, kid, signature = parse_signature_line(line)
        trusted = known.get((name, kid))
        if trusted is None:
            unverified.append(line)
        elif trusted.verify(text.encode(), signature):
            verified.append(name)
        else:
            raise UnverifiedNoteError(f"invalid signature for key {name}+{kid.hex()}")
    if not verified:
        raise UnverifiedNoteError("expected a signature from a trusted key, got none")
    return OpenedNote(text, verified, unverified)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("expected note text ending in a newline")
    _check_characters(text)


def _check_characters(text: str) -> None:
    if any(c < " " and c != "\n" for c in text):
        raise MalformedNoteError("expected no control characters other than newline")
