"""Ed25519 key material: seeds, ids, PEM and raw base64url encodings."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ledger.errors import KeyFormatError
from ledger.keys import (
    generate_private_key,
    key_id_for,
    private_key_from_pem,
    private_key_from_seed,
    private_key_to_pem,
    public_key_bytes,
    public_key_from_b64,
    public_key_to_b64,
)

# RFC 8032 §7.1 TEST 1 key; RFC 8037 Appendix A.1 publishes the same public key as the JWK
# "x" member, which is exactly our unpadded base64url encoding of the raw key.
RFC8032_TEST1_SEED = bytes.fromhex(
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
)
RFC8037_A1_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
# Derived by us: .venv/bin/python -c "import hashlib; print(hashlib.sha256(bytes.fromhex(
#   'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')).hexdigest()[:16])"
RFC8032_TEST1_KEY_ID = "ed25519:21fe31dfa154a261"


def test_public_key_b64_matches_rfc8037_appendix_a1() -> None:
    key = private_key_from_seed(RFC8032_TEST1_SEED)
    assert public_key_to_b64(key.public_key()) == RFC8037_A1_X


def test_key_id_of_the_rfc8032_test1_key() -> None:
    assert (
        key_id_for(private_key_from_seed(RFC8032_TEST1_SEED).public_key()) == RFC8032_TEST1_KEY_ID
    )


def test_generated_keys_are_distinct_and_have_well_formed_ids() -> None:
    first, second = generate_private_key(), generate_private_key()
    assert public_key_bytes(first.public_key()) != public_key_bytes(second.public_key())
    assert re.fullmatch(r"ed25519:[0-9a-f]{16}", key_id_for(first.public_key()))


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_seeds_must_be_32_bytes(size: int) -> None:
    with pytest.raises(KeyFormatError, match=f"32-byte Ed25519 seed, got {size} bytes"):
        private_key_from_seed(bytes(size))


def test_pem_round_trip_keeps_the_key() -> None:
    key = private_key_from_seed(RFC8032_TEST1_SEED)
    pem = private_key_to_pem(key)
    # pragma: allowlist nextline secret (the PEM header, not a key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    for loaded in (private_key_from_pem(pem), private_key_from_pem(pem.decode())):
        assert public_key_to_b64(loaded.public_key()) == RFC8037_A1_X
        assert loaded.sign(b"m") == key.sign(b"m")


def test_pem_of_another_key_type_is_rejected() -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="expected an Ed25519 private key"):
        private_key_from_pem(other)


def test_encrypted_pem_is_rejected() -> None:
    encrypted = private_key_from_seed(RFC8032_TEST1_SEED).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(KeyFormatError, match="unencrypted"):
        private_key_from_pem(encrypted)


# pragma: allowlist nextline secret (a PEM header around no key)
@pytest.mark.parametrize("pem", [b"", b"not a pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n"])
def test_garbage_pem_is_rejected(pem: bytes | str) -> None:
    with pytest.raises(KeyFormatError):
        private_key_from_pem(pem)


def test_public_key_b64_round_trip() -> None:
    key = generate_private_key().public_key()
    assert public_key_bytes(public_key_from_b64(public_key_to_b64(key))) == public_key_bytes(key)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (RFC8037_A1_X + "=", "padded"),
        (RFC8037_A1_X[:-1], "42 characters"),
        (RFC8037_A1_X + "A", "44 characters"),
        (RFC8037_A1_X[:-1] + "p", "non-zero pad bits"),
        (RFC8037_A1_X.replace("_", "/"), "standard alphabet"),
        ("", "empty"),
    ],
)
def test_public_key_b64_is_strict(text: str, why: str) -> None:
    with pytest.raises(KeyFormatError):
        public_key_from_b64(text)
