"""Ed25519 key material: generation, PEM (PKCS8) loading, raw public keys and key ids."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from geoledger_sdk.errors import KeyFormatError

KEY_ID_PREFIX = "ed25519:"


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh random Ed25519 private key (RFC 8032 section 5.1.5)."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key whose 32-byte secret is `seed` (RFC 8032 section 5.1.5).

    Requires `len(seed) == 32`. Meant for test keys; real keys come from `generate_private_key`.
    """
    if len(seed) != 32:
        raise KeyFormatError(f"expected a 32-byte seed, got {len(seed)} bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    """Unencrypted PKCS8 PEM, the format `geoledger keys create` writes."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key_pem(data: bytes | str) -> Ed25519PrivateKey:
    """Read an unencrypted PKCS8 PEM Ed25519 private key."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"expected an unencrypted PKCS8 PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key


def load_private_key_file(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read a PEM private key file as written by `geoledger keys create`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFormatError(f"cannot read private key file {path}: {exc}") from exc
    return load_private_key_pem(data)


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key (RFC 8032 section 5.1.5 encoding)."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_to_b64(key: Ed25519PublicKey) -> str:
    """The raw public key, base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(public_key_bytes(key)).rstrip(b"=").decode("ascii")


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Read a raw 32-byte public key written as base64url without padding."""
    raw = decode_b64url_strict(text, 32)
    if raw is None:
        raise KeyFormatError(
            f"expected 43 base64url characters without padding (32 bytes), got {text!r}"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id_for(key: Ed25519PublicKey) -> str:
    """`"ed25519:"` + the first 16 hex digits of SHA-256 of the raw public key."""
    return KEY_ID_PREFIX + hashlib.sha256(public_key_bytes(key)).hexdigest()[:16]


def decode_b64url_strict(text: str, length: int) -> bytes | None:
    """Decode unpadded base64url of exactly `length` bytes, or None.

    Strict: padding, the standard alphabet (`+`, `/`), whitespace and non-zero unused trailing bits
    are all refused, so that each byte string has exactly one accepted spelling.
    """
    if not isinstance(text, str) or not text.isascii():
        return None
    if len(text) != (length * 8 + 5) // 6:
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
    except ValueError:
        return None
    # Re-encoding catches non-zero trailing bits, which b64decode silently drops.
    if len(raw) != length or base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != text:
        return None
    return raw
