"""Ed25519 key material (RFC 8032 §5.1.5): generation, ids, and the encodings we store and send.

Private keys travel as unencrypted PKCS8 PEM (RFC 8410 §7); public keys as their raw 32 bytes in
unpadded base64url. Encrypting a PEM at rest is the secrets manager's job, not this module's.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.canonical import b64url_decode_exact, b64url_encode
from ledger.errors import CanonicalFormError, KeyFormatError

PUBLIC_KEY_BYTES = 32
SEED_BYTES = 32
KEY_ID_PREFIX = "ed25519:"


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh key from the operating system's CSPRNG (RFC 8032 §5.1.5)."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The key whose RFC 8032 §5.1.5 private key (seed) is `seed`. For tests and vectors.

    Requires len(seed) == 32; raises KeyFormatError otherwise.
    """
    if len(seed) != SEED_BYTES:
        raise KeyFormatError(f"expected a {SEED_BYTES}-byte Ed25519 seed, got {len(seed)} bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    """The 32-byte RFC 8032 §5.1.5 encoding of the public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """ "ed25519:" + the first 16 hex digits of SHA-256 (FIPS 180-4) of the raw public key.

    A conventional id for a new key; the server binds whatever key id a tenant registers.
    """
    return KEY_ID_PREFIX + hashlib.sha256(public_key_bytes(public_key)).hexdigest()[:16]


def private_key_to_pem(private_key: Ed25519PrivateKey) -> bytes:
    """Unencrypted PKCS8 PEM (RFC 5958, RFC 8410 §7), "-----BEGIN PRIVATE KEY-----"."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes | str) -> Ed25519PrivateKey:
    """Load an unencrypted PKCS8 PEM Ed25519 private key.

    Raises KeyFormatError if it is not PEM, is encrypted, or holds another kind of key.
    """
    data = pem.encode("ascii", errors="replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # TypeError: the PEM is encrypted; ValueError: not PEM or not a key we can read.
        raise KeyFormatError(f"expected an unencrypted PKCS8 PEM Ed25519 key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key


def public_key_to_b64(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key as unpadded base64url (43 characters)."""
    return b64url_encode(public_key_bytes(public_key))


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Load a public key from unpadded, canonical base64url of its 32 raw bytes.

    Raises KeyFormatError for any other encoding, or for bytes that are not a point encoding.
    """
    try:
        raw = b64url_decode_exact(text, PUBLIC_KEY_BYTES)
    except CanonicalFormError as exc:
        raise KeyFormatError(f"expected a raw Ed25519 public key: {exc}") from None
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyFormatError(f"expected an Ed25519 public key encoding: {exc}") from None
