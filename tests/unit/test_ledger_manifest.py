"""CRR manifests: signature, canonical bytes and chain hash, with corruption tests."""

from __future__ import annotations

import hashlib
import json

import pytest

from ledger.errors import ManifestError
from ledger.keys import private_key_from_seed
from ledger.manifest import (
    Manifest,
    ManifestFields,
    manifest_bytes,
    manifest_sha256,
    parse_manifest,
    sign_manifest,
    verify_manifest,
)

REGION_KEY = private_key_from_seed(hashlib.sha256(b"geoledger-test-region-us").digest())
OTHER_KEY = private_key_from_seed(hashlib.sha256(b"geoledger-test-region-eu").digest())


def _fields(**changes: object) -> ManifestFields:
    base: dict[str, object] = {
        "region": "us",
        "node": "n1",
        "segment": "wal/us/n1/segments/00000000000000000001-00000000000000000003.seg.zst",
        "first_seq": 1,
        "last_seq": 3,
        "records": 3,
        "raw_bytes": 300,
        "raw_sha256": "1" * 64,
        "compressed_bytes": 120,
        "sha256": "2" * 64,
        "codec": "zstd",
        "sealed_at_ms": 1_700_000_000_000,
        "shipped_at_ms": 1_700_000_000_500,
        "prev_manifest_sha256": "",
    }
    base.update(changes)
    return ManifestFields.model_validate(base)


def test_round_trip_verifies_and_hash_is_of_stored_bytes() -> None:
    manifest = sign_manifest(REGION_KEY, _fields())
    stored = manifest_bytes(manifest)
    parsed = parse_manifest(stored)
    assert parsed == manifest
    assert verify_manifest(REGION_KEY.public_key(), parsed)
    assert manifest_sha256(parsed) == hashlib.sha256(stored).hexdigest()


def test_chain_names_the_previous_manifest() -> None:
    first = sign_manifest(REGION_KEY, _fields())
    second = sign_manifest(
        REGION_KEY,
        _fields(first_seq=4, last_seq=5, records=2, prev_manifest_sha256=manifest_sha256(first)),
    )
    assert second.prev_manifest_sha256 == hashlib.sha256(manifest_bytes(first)).hexdigest()


def test_wrong_key_does_not_verify() -> None:
    manifest = sign_manifest(REGION_KEY, _fields())
    assert not verify_manifest(OTHER_KEY.public_key(), manifest)


@pytest.mark.parametrize(
    "field, value",
    [
        ("first_seq", 2),
        ("last_seq", 4),
        ("records", 4),
        ("raw_sha256", "3" * 64),
        ("sha256", "3" * 64),
        ("segment", "wal/us/n1/segments/other.seg.zst"),
        ("prev_manifest_sha256", "4" * 64),
        ("region", "eu"),
        ("node", "n2"),
        ("shipped_at_ms", 1),
    ],
)
def test_any_changed_field_breaks_the_signature(field: str, value: object) -> None:
    manifest = sign_manifest(REGION_KEY, _fields())
    tampered = Manifest.model_validate({**manifest.model_dump(), field: value})
    assert not verify_manifest(REGION_KEY.public_key(), tampered)


def test_every_flipped_signature_bit_fails() -> None:
    manifest = sign_manifest(REGION_KEY, _fields())
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position in range(len(manifest.signature) - 1):
        char = manifest.signature[position]
        flipped = alphabet[alphabet.index(char) ^ 1]
        signature = manifest.signature[:position] + flipped + manifest.signature[position + 1 :]
        tampered = Manifest.model_validate({**manifest.model_dump(), "signature": signature})
        assert not verify_manifest(REGION_KEY.public_key(), tampered), position


def test_non_canonical_bytes_are_refused() -> None:
    manifest = sign_manifest(REGION_KEY, _fields())
    pretty = json.dumps(manifest.model_dump(), indent=1).encode()
    with pytest.raises(ManifestError, match="canonical"):
        parse_manifest(pretty)


@pytest.mark.parametrize("data", [b"", b"[]", b"{}", b'{"v":1}', b"\xff"])
def test_malformed_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(data)


def test_record_count_must_match_the_seq_range() -> None:
    with pytest.raises(ManifestError, match="records"):
        sign_manifest(REGION_KEY, _fields(records=2))
