"""Envelope rules, strict base64url, the Signer, and the pure parts of the client protocol."""

from __future__ import annotations

import random
import re

import pytest

from geoledger_sdk import (
    MAX_BATCH_BYTES,
    Envelope,
    InvalidEventError,
    KeyFormatError,
    RetryPolicy,
    Signer,
    generate_private_key,
    load_private_key_pem,
    private_key_to_pem,
    public_key_from_b64,
    verify,
)
from geoledger_sdk._protocol import plan_batches
from geoledger_sdk.keys import decode_b64url_strict

VALID = {
    "tenant_id": "acme",
    "event_id": "evt-1",
    "key_id": "ed25519:0011223344556677",
    "occurred_at": "2025-01-31T12:00:00Z",
    "type": "order.created",
    "payload": {"n": 1},
}


def test_payload_is_snapshotted() -> None:
    payload = {"items": [1, 2]}
    envelope = Envelope(**{**VALID, "payload": payload})
    payload["items"].append(3)
    assert envelope.payload == {"items": [1, 2]}


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", True),
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", False),  # padding
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", False),  # non-zero pad bits
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A", False),  # standard alphabet
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A", True),
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", False),  # short
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA AA", False),  # whitespace
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\u00e9A", False),  # non-ASCII
    ],
)
def test_strict_base64url(text: str, ok: bool) -> None:
    assert (decode_b64url_strict(text, 32) is not None) is ok


def test_public_key_from_bad_b64_raises() -> None:
    with pytest.raises(KeyFormatError):
        public_key_from_b64("not-a-key")


def test_pem_round_trip_and_rejections() -> None:
    key = generate_private_key()
    loaded = load_private_key_pem(private_key_to_pem(key))
    assert loaded.public_key() == key.public_key()
    with pytest.raises(KeyFormatError):
        # pragma: allowlist nextline secret (a malformed PEM: the header around no key)
        load_private_key_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_signer_builds_verifiable_events_with_a_current_timestamp() -> None:
    key = generate_private_key()
    event = Signer(key, "acme").sign("evt-1", "order.created", {"total": 12.5})
    assert verify(key.public_key(), event)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event.envelope.occurred_at)
    assert event.envelope.key_id.startswith("ed25519:")
    with pytest.raises(InvalidEventError) as caught:
        Signer(key, "Acme").sign("evt-1", "t", {})
    assert caught.value.field == "tenant_id"


def test_retry_delays_grow_and_stay_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.1, max_delay=1.0)
    rng = random.Random(7)
    for retry, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        for _ in range(50):
            assert ceiling / 2 <= policy.delay(retry, None, rng) <= ceiling
    # Retry-After raises the wait, capped at max_delay.
    assert policy.delay(1, 0.5, rng) >= 0.5
    assert policy.delay(1, 60.0, rng) == 1.0
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_batches_respect_the_byte_limit() -> None:
    signer = Signer(generate_private_key(), "acme")
    big = [
        signer.sign(f"evt-{n}", "blob", {"b": "x" * 250_000}, occurred_at="2025-01-31T12:00:00Z")
        for n in range(20)
    ]
    batches = plan_batches(big)
    assert [len(batch.events) for batch in batches] == [16, 4]
    assert all(len(batch.body) <= MAX_BATCH_BYTES for batch in batches)
    assert [batch.offset for batch in batches] == [0, 16]
