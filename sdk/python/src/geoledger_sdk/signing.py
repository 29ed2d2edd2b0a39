"""Event signatures: Ed25519 (RFC 8032) over a domain-separated RFC 8785 canonical envelope."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from geoledger_sdk.canonical import canonicalize
from geoledger_sdk.envelope import Envelope, SignedEvent
from geoledger_sdk.keys import decode_b64url_strict

SIGNING_DOMAIN = b"geoledger.event.v1\x00"
"""Prefix of every signing input, so an event signature can never be replayed as another message."""

SIGNATURE_BYTES = 64


def canonical_envelope(envelope: Envelope) -> bytes:
    """RFC 8785 bytes of the envelope's six fields."""
    return canonicalize(envelope.to_dict())


def signing_input(envelope: Envelope) -> bytes:
    """The bytes an event signature covers: `SIGNING_DOMAIN + JCS(envelope)`."""
    return SIGNING_DOMAIN + canonical_envelope(envelope)


def content_digest(envelope: Envelope) -> bytes:
    """SHA-256 of the canonical envelope (no domain prefix, no signature); the server calls two
    events with the same key and digest duplicates."""
    return hashlib.sha256(canonical_envelope(envelope)).digest()


def sign(private_key: Ed25519PrivateKey, envelope: Envelope) -> str:
    """Ed25519 signature (RFC 8032 section 5.1.6) of the signing input, base64url, no padding."""
    signature = private_key.sign(signing_input(envelope))
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")


def sign_event(private_key: Ed25519PrivateKey, envelope: Envelope) -> SignedEvent:
    """The envelope together with its signature."""
    return SignedEvent(envelope=envelope, signature=sign(private_key, envelope))


def verify(public_key: Ed25519PublicKey, event: SignedEvent) -> bool:
    """True only if `event.signature` is exactly 86 base64url characters (no padding) of a valid
    Ed25519 signature (RFC 8032 section 5.1.7) of the event's signing input."""
    raw = decode_b64url_strict(event.signature, SIGNATURE_BYTES)
    if raw is None:
        return False
    try:
        public_key.verify(raw, signing_input(event.envelope))
    except InvalidSignature:
        return False
    return True
