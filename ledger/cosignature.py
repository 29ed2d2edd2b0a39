"""C2SP tlog-cosignature v1, Ed25519 (signature type 0x04; c2sp.org/tlog-cosignature).

A cosignature is a note signature line on a checkpoint whose signature is
`u64 big-endian timestamp || Ed25519 signature` over

    cosignature/v1\\ntime <timestamp>\\n<checkpoint note text>

and whose key id is SHA-256(name || "\\n" || 0x04 || public key)[:4]. It states that, as of the
timestamp, the checkpoint is the largest consistent one the cosigner has seen for the origin.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import MalformedNoteError, UnverifiedNoteError
from ledger.keys import public_key_bytes
from ledger.signed_note import (
    check_key_name,
    encode_vkey,
    key_id,
    parse_signature_line,
    parse_vkey,
    signature_line,
)
from ledger.signing import verify_signature

COSIGNATURE_TYPE = 0x04
MAX_TIMESTAMP = 2**63 - 1
_TIMESTAMP = struct.Struct(">Q")
ED25519_SIGNATURE_BYTES = 64


def cosigned_message(checkpoint_body: str, timestamp: int) -> bytes:
    """tlog-cosignature §Ed25519 signed message: header, time line, the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_body}".encode()


def cosignature_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key "name+hex8+base64(0x04 || public key)" of a cosigner."""
    return encode_vkey(name, COSIGNATURE_TYPE, public_key_bytes(public_key))


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's Ed25519 cosigning key under its name."""

    name: str
    key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def key_id(self) -> bytes:
        """SHA-256(name || "\\n" || 0x04 || public key)[:4]."""
        return key_id(self.name, COSIGNATURE_TYPE, public_key_bytes(self.key.public_key()))

    def vkey(self) -> str:
        """The verifier key log clients check this cosigner with."""
        return cosignature_vkey(self.name, self.key.public_key())

    def cosign(self, checkpoint_body: str, timestamp: int) -> str:
        """The cosignature line (newline included) of the checkpoint text at `timestamp` (POSIX
        seconds, 1 <= timestamp <= 2^63 - 1: a witness never omits its timestamp)."""
        if not 0 < timestamp <= MAX_TIMESTAMP:
            raise MalformedNoteError(f"expected a timestamp in [1, 2^63-1], got {timestamp}")
        signature = self.key.sign(cosigned_message(checkpoint_body, timestamp))
        return signature_line(self.name, self.key_id, _TIMESTAMP.pack(timestamp) + signature)


@dataclass(frozen=True)
class CosignatureVerifier:
    """A cosigner's key as a note `Verifier`, so `open_note` can check cosignatures too."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_vkey(cls, text: str) -> CosignatureVerifier:
        """The verifier of "name+hex8+base64(0x04 || key)"; raises MalformedNoteError."""
        name, public_key = parse_vkey(text, COSIGNATURE_TYPE)
        return cls(name, key_id(name, COSIGNATURE_TYPE, public_key), public_key)

    def timestamp(self, text: bytes, signature: bytes) -> int | None:
        """The timestamp of a valid cosignature of note text `text`, else None."""
        if len(signature) != _TIMESTAMP.size + ED25519_SIGNATURE_BYTES:
            return None
        (timestamp,) = _TIMESTAMP.unpack(signature[: _TIMESTAMP.size])
        if timestamp > MAX_TIMESTAMP:
            return None
        message = cosigned_message(text.decode(), timestamp)
        if not verify_signature(self.public_key, signature[_TIMESTAMP.size :], message):
            return None
        return int(timestamp)

    def verify(self, text: bytes, signature: bytes) -> bool:
        """True when `signature` is a valid cosignature of note text `text`."""
        return self.timestamp(text, signature) is not None


def verify_cosignature(line: str, checkpoint_body: str, vkey: str) -> int:
    """The timestamp of cosignature `line` (newline optional) on the checkpoint text, checked
    under the cosigner verifier key `vkey`; raises MalformedNoteError for a line or key not in
    the format, UnverifiedNoteError for another key or a signature that does not verify."""
    verifier = CosignatureVerifier.from_vkey(vkey)
    name, kid, signature = parse_signature_line(line if line.endswith("\n") else line + "\n")
    if (name, kid) != (verifier.name, verifier.key_id):
        raise UnverifiedNoteError(
            f"expected a cosignature by {verifier.name}+{verifier.key_id.hex()}, "
            f"got {name}+{kid.hex()}"
        )
    timestamp = verifier.timestamp(checkpoint_body.encode(), signature)
    if timestamp is None:
        raise UnverifiedNoteError(f"invalid cosignature for key {name}+{kid.hex()}")
    return timestamp
