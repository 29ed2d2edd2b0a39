"""Event signatures: Ed25519 (RFC 8032 §5.1) over a domain-separated RFC 8785 envelope.

signing input = b"geoledger.event.v1\\x00" + JCS(envelope). The prefix keeps a signature made for
an event from ever verifying as anything else a tenant key might sign, and the version in it lets
a future envelope change its input without ambiguity.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.canonical import b64url_decode_exact, b64url_encode, canonical_bytes
from ledger.envelope import SIGNATURE_BYTES, EventEnvelope, SignedEvent
from ledger.errors import CanonicalFormError

SIGNING_DOMAIN = b"geoledger.event.v1\x00"


def signing_input(envelope: EventEnvelope) -> bytes:
    """SIGNING_DOMAIN + RFC 8785 form of the six envelope fields: the RFC 8032 §5.1.6 message M."""
    return SIGNING_DOMAIN + canonical_bytes(envelope.envelope_dict())


def content_digest(envelope: EventEnvelope) -> bytes:
    """SHA-256 (FIPS 180-4) of the RFC 8785 envelope, without domain prefix or signature.

    Two events with the same key and the same digest are duplicates; a different digest under the
    same key is a conflict. 32 bytes.
    """
    return hashlib.sha256(canonical_bytes(envelope.envelope_dict())).digest()


def sign(private_key: Ed25519PrivateKey, envelope: EventEnvelope) -> str:
    """Ed25519 signature (RFC 8032 §5.1.6) of `signing_input(envelope)`, unpadded base64url."""
    return b64url_encode(private_key.sign(signing_input(envelope)))


def sign_event(private_key: Ed25519PrivateKey, envelope: EventEnvelope) -> SignedEvent:
    """The signed event for `envelope`."""
    return SignedEvent.model_construct(
        **envelope.envelope_dict(), signature=sign(private_key, envelope)
    )


def verify(public_key: Ed25519PublicKey, event: SignedEvent) -> bool:
    """True when `event.signature` is a valid RFC 8032 §5.1.7 signature of the event's signing
    input under `public_key`.

    False, never an exception, for anything else: a wrong key or message, and a signature that is
    not exactly 86 canonical unpadded base64url characters (padding, other alphabets, non-zero pad
    bits, wrong length). Whether the key belongs to the event's tenant is the caller's question.
    """
    try:
        signature = b64url_decode_exact(event.signature, SIGNATURE_BYTES)
        message = signing_input(event.envelope())
    except CanonicalFormError:
        # Only reachable for events built without validation (model_construct).
        return False
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
