"""Event signatures: RFC 8032 Ed25519 over the domain-separated RFC 8785 envelope."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from ledger.canonical import b64url_decode_exact, b64url_encode, canonical_bytes
from ledger.envelope import EventEnvelope, SignedEvent
from ledger.keys import private_key_from_seed, public_key_bytes
from ledger.signing import (
    SIGNING_DOMAIN,
    content_digest,
    sign,
    sign_event,
    signing_input,
    verify,
    verify_signature,
)

# RFC 8032 §7.1 "Test Vectors for Ed25519", TEST 1 and TEST 2: seed, public key, message,
# signature. They pin `private_key_from_seed` and the library to the RFC.
RFC8032_TESTS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701"
        "cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d"
        "0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]

SEED = bytes.fromhex(RFC8032_TESTS[0][0])
KEY = private_key_from_seed(SEED)
OTHER_KEY = private_key_from_seed(bytes.fromhex(RFC8032_TESTS[1][0]))

ENVELOPE_FIELDS: dict[str, Any] = {
    "tenant_id": "acme",
    "event_id": "order-0001",
    "key_id": "ed25519:21fe31dfa154a261",
    "occurred_at": "2025-01-31T23:59:59.123+01:00",
    "type": "order.created",
    "payload": {
        "sku": "A-1",
        "qty": 2,
        "price": 19.99,
        "tags": ["€", "ö"],
        "meta": {"z": None, "a": True},
    },
}

# Our own golden vector: the RFC 8032 TEST 1 key signing ENVELOPE_FIELDS. Reproduce with
#   .venv/bin/python -c "from tests.unit.test_ledger_signing import *; print(sign(KEY, ENVELOPE))"
# The SDKs' sdk/golden/vectors.json must agree with these bytes.
GOLDEN_SIGNING_INPUT = (
    b"geoledger.event.v1\x00"
    b'{"event_id":"order-0001","key_id":"ed25519:21fe31dfa154a261",'
    b'"occurred_at":"2025-01-31T23:59:59.123+01:00",'
    b'"payload":{"meta":{"a":true,"z":null},"price":19.99,"qty":2,"sku":"A-1",'
    b'"tags":["\xe2\x82\xac","\xc3\xb6"]},"tenant_id":"acme","type":"order.created"}'
)
GOLDEN_SIGNATURE = (
    "MKwPmrc0MkgD3kNUg1HyvyTPVmZZawqqCadTgQFAKE7wSOIVI5aybyeaT_yHv_4TU2JWROfnJV70F1NWxG-XDQ"
)
GOLDEN_DIGEST = "1c42db683fb04b9b0527af4dfbe4413b92a5a871af24797ff3386097ac869964"

ENVELOPE = EventEnvelope(**ENVELOPE_FIELDS)


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032_TESTS)
def test_rfc8032_section_7_1_vectors(seed: str, public: str, message: str, signature: str) -> None:
    key = private_key_from_seed(bytes.fromhex(seed))
    assert public_key_bytes(key.public_key()).hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032_TESTS)
def test_rfc8032_section_7_1_vectors_verify(
    seed: str, public: str, message: str, signature: str
) -> None:
    key, sig, msg = bytes.fromhex(public), bytes.fromhex(signature), bytes.fromhex(message)
    assert verify_signature(key, sig, msg)
    assert verify_signature(private_key_from_seed(bytes.fromhex(seed)).public_key(), sig, msg)
    assert not verify_signature(key, sig, msg + b"\x00")


IDENTITY_POINT = bytes([1]) + bytes(31)
"""The neutral element's encoding (y = 1): a point of small order."""


@pytest.mark.parametrize(
    ("key", "signature", "why"),
    [
        # R = identity, S = 0 satisfies [S]B = R + [k]A for every message under the identity key:
        # a check without a small-order test (OpenSSL's Ed25519) accepts this forgery.
        (IDENTITY_POINT, IDENTITY_POINT + bytes(32), "small-order key"),
        (IDENTITY_POINT, bytes(64), "small-order key, R not a point"),
        (IDENTITY_POINT, IDENTITY_POINT, "32-byte signature"),
        (IDENTITY_POINT[:31], IDENTITY_POINT + bytes(32), "31-byte key"),
    ],
)
def test_degenerate_keys_and_signatures_verify_nothing(
    key: bytes, signature: bytes, why: str
) -> None:
    for message in (b"", b"any message", signing_input(ENVELOPE)):
        assert not verify_signature(key, signature, message), why


def test_signing_domain_is_the_versioned_prefix() -> None:
    assert SIGNING_DOMAIN == b"geoledger.event.v1\x00"


def test_golden_signing_input() -> None:
    assert signing_input(ENVELOPE) == GOLDEN_SIGNING_INPUT


def test_golden_signature() -> None:
    # Ed25519 is deterministic (RFC 8032 §5.1.6), so the same key and input give the same bytes.
    assert sign(KEY, ENVELOPE) == GOLDEN_SIGNATURE
    event = sign_event(KEY, ENVELOPE)
    assert event.signature == GOLDEN_SIGNATURE
    assert verify(KEY.public_key(), event)


def test_golden_content_digest() -> None:
    digest = content_digest(ENVELOPE)
    assert len(digest) == 32
    assert digest.hex() == GOLDEN_DIGEST
    # Without the domain prefix: it is the hash of the canonical envelope alone.
    assert digest == hashlib.sha256(GOLDEN_SIGNING_INPUT[len(SIGNING_DOMAIN) :]).digest()


def test_signing_input_is_exactly_the_six_fields() -> None:
    body = signing_input(ENVELOPE)[len(SIGNING_DOMAIN) :]
    assert body == canonical_bytes(ENVELOPE_FIELDS)


def test_signature_covers_the_canonical_form_not_the_client_spelling() -> None:
    # Key order and 2 vs 2.0 are not part of the canonical form, so they do not change anything.
    reordered = dict(reversed(list(ENVELOPE_FIELDS.items())))
    reordered["payload"] = {**dict(reversed(list(ENVELOPE_FIELDS["payload"].items()))), "qty": 2.0}
    respelled = EventEnvelope(**reordered)
    assert signing_input(respelled) == GOLDEN_SIGNING_INPUT
    assert content_digest(respelled).hex() == GOLDEN_DIGEST
    assert verify(KEY.public_key(), _signed(respelled, GOLDEN_SIGNATURE))


def test_content_digest_ignores_the_signature_but_not_the_content() -> None:
    signed = sign_event(KEY, ENVELOPE)
    resigned = sign_event(OTHER_KEY, ENVELOPE)
    assert signed.signature != resigned.signature
    assert content_digest(signed.envelope()) == content_digest(resigned.envelope())
    changed = ENVELOPE.model_copy(update={"payload": {**ENVELOPE_FIELDS["payload"], "qty": 3}})
    assert content_digest(changed) != content_digest(ENVELOPE)


def test_signature_is_86_unpadded_base64url_characters() -> None:
    signature = sign(KEY, ENVELOPE)
    assert len(signature) == 86
    assert "=" not in signature
    assert len(b64url_decode_exact(signature, 64)) == 64


def test_signature_without_the_domain_prefix_does_not_verify() -> None:
    raw = b64url_decode_exact(GOLDEN_SIGNATURE, 64)
    KEY.public_key().verify(raw, GOLDEN_SIGNING_INPUT)
    with pytest.raises(InvalidSignature):
        KEY.public_key().verify(raw, GOLDEN_SIGNING_INPUT[len(SIGNING_DOMAIN) :])


def _signed(envelope: EventEnvelope, signature: str) -> SignedEvent:
    """A signed event carrying `signature` as given, bypassing validation (for tamper tests)."""
    return SignedEvent.model_construct(**envelope.envelope_dict(), signature=signature)


@pytest.mark.parametrize("bit", range(0, 512, 7))
def test_flipping_any_signature_bit_fails(bit: int) -> None:
    raw = bytearray(b64url_decode_exact(GOLDEN_SIGNATURE, 64))
    raw[bit // 8] ^= 1 << (bit % 8)
    assert not verify(KEY.public_key(), _signed(ENVELOPE, b64url_encode(bytes(raw))))


# Every field changed to another valid value, including one-character and one-bit changes.
TAMPERED_FIELDS: list[tuple[str, Any]] = [
    ("tenant_id", "acmf"),
    ("tenant_id", "acme2"),
    ("event_id", "order-0002"),
    ("event_id", "Order-0001"),
    ("key_id", "ed25519:21fe31dfa154a262"),
    ("occurred_at", "2025-01-31T23:59:59.124+01:00"),
    ("occurred_at", "2025-01-31T22:59:59.123Z"),  # the same instant, spelled differently
    ("occurred_at", "2025-01-31t23:59:59.123+01:00"),
    ("type", "order.createe"),
    ("type", "order.created "),
]

TAMPERED_PAYLOADS: list[dict[str, Any]] = [
    {**ENVELOPE_FIELDS["payload"], "qty": 3},
    {**ENVELOPE_FIELDS["payload"], "qty": "2"},
    {**ENVELOPE_FIELDS["payload"], "qty": 2.5},
    {**ENVELOPE_FIELDS["payload"], "price": 19.990000000000002},
    {**ENVELOPE_FIELDS["payload"], "sku": "A-2"},
    {**ENVELOPE_FIELDS["payload"], "tags": ["ö", "€"]},
    {**ENVELOPE_FIELDS["payload"], "meta": {"z": None, "a": False}},
    {**ENVELOPE_FIELDS["payload"], "meta": {"z": None}},
    {**ENVELOPE_FIELDS["payload"], "extra": None},
    {key: value for key, value in ENVELOPE_FIELDS["payload"].items() if key != "sku"},
    {},
]


@pytest.mark.parametrize(("field", "value"), TAMPERED_FIELDS)
def test_changing_any_field_fails(field: str, value: Any) -> None:
    tampered = EventEnvelope(**{**ENVELOPE_FIELDS, field: value})
    assert not verify(KEY.public_key(), _signed(tampered, GOLDEN_SIGNATURE))


@pytest.mark.parametrize("payload", TAMPERED_PAYLOADS)
def test_changing_the_payload_fails(payload: dict[str, Any]) -> None:
    tampered = EventEnvelope(**{**ENVELOPE_FIELDS, "payload": payload})
    assert not verify(KEY.public_key(), _signed(tampered, GOLDEN_SIGNATURE))


def test_wrong_key_fails() -> None:
    assert not verify(OTHER_KEY.public_key(), _signed(ENVELOPE, GOLDEN_SIGNATURE))


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        (GOLDEN_SIGNATURE + "==", "padded base64url"),
        (GOLDEN_SIGNATURE + "=", "single padding character"),
        (GOLDEN_SIGNATURE.replace("-", "+").replace("_", "/"), "standard base64 alphabet"),
        (GOLDEN_SIGNATURE[:-1], "85 characters"),
        (GOLDEN_SIGNATURE + "A", "87 characters"),
        (GOLDEN_SIGNATURE[:-1] + "R", "non-zero pad bits: same bytes, other text"),
        (" " + GOLDEN_SIGNATURE, "leading whitespace"),
        ("", "empty"),
        (b64url_encode(bytes(64)), "all-zero signature"),
        (b64url_encode(b64url_decode_exact(GOLDEN_SIGNATURE, 64) + b"\x00"), "65 bytes"),
    ],
)
def test_malformed_signatures_fail_without_raising(signature: str, why: str) -> None:
    assert not verify(KEY.public_key(), _signed(ENVELOPE, signature))


def test_the_unmodified_golden_event_verifies() -> None:
    # The control for every tamper test above: only the change makes them fail.
    assert verify(KEY.public_key(), _signed(ENVELOPE, GOLDEN_SIGNATURE))
