"""Event signatures: Ed25519 (RFC 8032 §5.1) over a domain-separated RFC 8785 envelope.

signing input = b"geoledger.event.v1\\x00" + JCS(envelope). The prefix keeps a signature made for
an event from ever verifying as anything else a tenant key might sign, and the version in it lets
a future envelope change its input without ambiguity.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from ledger.canonical import b64url_encode
from ledger.envelope import EventEnvelope, SignedEvent
from ledger.errors import CanonicalFormError

SIGNING_DOMAIN = b"geoledger.event.v1\x00"


def signing_input(envelope: EventEnvelope | SignedEvent) -> bytes:
    """SIGNING_DOMAIN + RFC 8785 form of the six envelope fields: the RFC 8032 §5.1.6 message M.

    A SignedEvent stands for its envelope: its signature is not part of the input.
    """
    return SIGNING_DOMAIN + envelope.canonical_envelope()


def content_digest(envelope: EventEnvelope | SignedEvent) -> bytes:
    """SHA-256 (FIPS 180-4) of the RFC 8785 envelope, without domain prefix or signature.

    Two events with the same key and the same digest are duplicates; a different digest under the
    same key is a conflict. 32 bytes. A SignedEvent stands for its envelope.
    """
    return hashlib.sha256(envelope.canonical_envelope()).digest()


def sign(private_key: Ed25519PrivateKey, envelope: EventEnvelope) -> str:
    """Ed25519 signature (RFC 8032 §5.1.6) of `signing_input(envelope)`, unpadded base64url."""
    return b64url_encode(private_key.sign(signing_input(envelope)))


def sign_event(private_key: Ed25519PrivateKey, envelope: EventEnvelope) -> SignedEvent:
    """The signed event for `envelope`."""
    return SignedEvent.model_construct(
        **envelope.envelope_dict(), signature=sign(private_key, envelope)
    )


def verify(public_key: Ed25519PublicKey | bytes, event: SignedEvent) -> bool:
    """True when `event.signature` is a valid RFC 8032 §5.1.7 signature of the event's signing
    input under `public_key`.

    False, never an exception, for anything else: a wrong key or message, and a signature that is
    not exactly 86 canonical unpadded base64url characters (padding, other alphabets, non-zero pad
    bits, wrong length). Whether the key belongs to the event's tenant is the caller's question.
    """
    inputs = verification_inputs(event)
    return inputs is not None and verify_signature(public_key, *inputs)


def verification_inputs(event: SignedEvent) -> tuple[bytes, bytes] | None:
    """The signature bytes and the message M (`signing_input`) that RFC 8032 §5.1.7 verification
    of `event` takes; None when there is nothing that could verify (a signature that is not 86
    canonical base64url characters, a field without an RFC 8785 form).

    Split from `verify` so that the inputs can be built in one process and checked in another.
    """
    try:
        return event.signature_bytes(), signing_input(event)
    except CanonicalFormError:
        # Only reachable for events built without validation (model_construct).
        return None


def verify_signature(
    public_key: Ed25519PublicKey | bytes, signature: bytes, message: bytes
) -> bool:
    """RFC 8032 §5.1.7: True when `signature` is valid for `message` under `public_key` (a key
    object or its 32 raw bytes); False, never an exception, otherwise.

    Verified by libsodium, which takes about half the CPU time of OpenSSL's Ed25519 here and is
    stricter at the edges: besides a non-canonical S it refuses public keys and R points of small
    order and non-canonical key encodings, which no honest signer produces.
    """
    raw = public_key if isinstance(public_key, bytes) else _raw(public_key)
    if len(signature) != SIGNATURE_BYTES or len(raw) != PUBLIC_KEY_BYTES:
        return False
    try:
        # The attached form (signature then message) is the one PyNaCl exposes for verification.
        crypto_sign_open(signature + message, raw)
    except BadSignatureError:
        return False
    return True


SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
