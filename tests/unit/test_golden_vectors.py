"""The SDK golden vectors: committed file is current, and its values hold up when recomputed
independently of the reference code that generated them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from typer.testing import CliRunner

from cli.sdk import DEFAULT_VECTORS_PATH, sdk_app, vectors_are_current
from golden import materialize_payload, render_vectors
from tests.support.rfc8785_vectors import RFC8785_APPENDIX_B

SIGNING_DOMAIN = b"geoledger.event.v1\x00"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(render_vectors())


def test_committed_file_is_current() -> None:
    assert vectors_are_current(DEFAULT_VECTORS_PATH), (
        "sdk/golden/vectors.json is stale: run `geoledger sdk vectors` and commit it"
    )


def test_check_exits_1_on_a_stale_file_and_0_on_a_fresh_one(tmp_path: Path) -> None:
    target = tmp_path / "vectors.json"
    runner = CliRunner()
    assert runner.invoke(sdk_app, ["vectors", "--check", "--out", str(target)]).exit_code == 1

    assert runner.invoke(sdk_app, ["vectors", "--out", str(target)]).exit_code == 0
    assert runner.invoke(sdk_app, ["vectors", "--check", "--out", str(target)]).exit_code == 0

    stale = target.read_text().replace('"format": 1', '"format": 0')
    target.write_text(stale)
    result = runner.invoke(sdk_app, ["vectors", "--check", "--out", str(target)])
    assert result.exit_code == 1
    assert "stale" in result.output


def _render_in_a_fresh_process(hash_seed: str) -> str:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-c", "import sys, golden; sys.stdout.write(golden.render_vectors())"],
        env=environment,
        cwd=Path(__file__).resolve().parents[2] / "sdk",  # where the golden package lives
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_two_processes_build_the_same_document(document: dict[str, Any]) -> None:
    # Separate interpreters with different string-hash seeds: a build that leaned on set or
    # dict-of-hash ordering, the clock or fresh randomness would differ between them.
    first, second = _render_in_a_fresh_process("1"), _render_in_a_fresh_process("2")
    assert first == second
    assert json.loads(first) == document


def test_document_header(document: dict[str, Any]) -> None:
    assert document["generated_by"] == "geoledger sdk vectors"
    assert bytes.fromhex(document["signing_domain_hex"]) == SIGNING_DOMAIN
    assert len(document["cases"]) >= 30
    assert len({case["name"] for case in document["cases"]}) == len(document["cases"])


def test_numbers_include_rfc8785_appendix_b(document: dict[str, Any]) -> None:
    generated = {entry["ieee754"]: entry["canonical"] for entry in document["numbers"]}
    for bits, text in RFC8785_APPENDIX_B:
        assert generated[bits] == text, bits


def test_keys_are_derived_from_their_published_seeds(document: dict[str, Any]) -> None:
    for entry in document["keys"]:
        seed = hashlib.sha256(f"geoledger-golden-{entry['name']}".encode()).digest()
        assert entry["seed_hex"] == seed.hex()
        key = serialization.load_pem_private_key(entry["private_key_pem"].encode(), None)
        assert isinstance(key, Ed25519PrivateKey)
        raw_private = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        assert raw_private == seed
        raw_public = _b64url(entry["public_key"])
        assert raw_public == key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert entry["key_id"] == "ed25519:" + hashlib.sha256(raw_public).hexdigest()[:16]


def test_each_case_recomputes_independently(document: dict[str, Any]) -> None:
    keys = {entry["name"]: entry for entry in document["keys"]}
    for case in document["cases"]:
        envelope = dict(case["envelope"])
        if "payload_recipe" in case:
            envelope["payload"] = materialize_payload(case["payload_recipe"])
        canonical = _jcs_of(envelope)
        assert hashlib.sha256(canonical).hexdigest() == case["content_digest_hex"], case["name"]
        assert len(canonical) == case["canonical_size"]
        if "canonical_hex" in case:
            assert canonical.hex() == case["canonical_hex"]
            assert case["signing_input_hex"] == (SIGNING_DOMAIN + canonical).hex()
        else:
            assert (
                hashlib.sha256(SIGNING_DOMAIN + canonical).hexdigest()
                == (case["signing_input_sha256"])
            )
        assert case["key_id"] == keys[case["key"]]["key_id"] == envelope["key_id"]
        public = Ed25519PublicKey.from_public_bytes(_b64url(case["public_key"]))
        public.verify(_b64url(case["signature"]), SIGNING_DOMAIN + canonical)
        assert case["valid"] is True


def test_maximal_payloads_are_exactly_at_the_limit(document: dict[str, Any]) -> None:
    limit = document["max_payload_bytes"]
    maximal = [case for case in document["cases"] if "payload_recipe" in case]
    assert {case["name"] for case in maximal} >= {"maximal_payload_ascii"}
    for case in maximal:
        assert case["payload_canonical_size"] == limit == 262144
        payload = materialize_payload(case["payload_recipe"])
        assert len(_jcs_of(payload)) == limit


def test_tampered_variants(document: dict[str, Any]) -> None:
    for case in document["cases"]:
        names = {variant["name"] for variant in case["tampered"]}
        assert {
            "flipped_signature_bit",
            "changed_payload",
            "wrong_key",
            "padded_signature",
            "non_canonical_pad_bits",
        } <= names, case["name"]
        for variant in case["tampered"]:
            # Only reordering members keeps a signature valid: order is not part of JCS output.
            assert variant["valid"] is (variant["name"] == "reordered_payload_members")
            if variant["name"] == "flipped_signature_bit":
                original = _b64url(case["signature"])
                flipped = _b64url(variant["signature"])
                diff = int.from_bytes(original, "big") ^ int.from_bytes(flipped, "big")
                assert diff.bit_count() == 1
            if variant["name"] == "non_canonical_pad_bits":
                # Same bytes under a lenient decoder: only strictness can reject it.
                lenient = base64.urlsafe_b64decode(variant["signature"] + "==")
                assert lenient == _b64url(case["signature"])
                assert variant["signature"] != case["signature"]


def test_flipped_bits_do_not_verify_under_plain_cryptography(document: dict[str, Any]) -> None:
    case = document["cases"][0]
    canonical = bytes.fromhex(case["canonical_hex"])
    public = Ed25519PublicKey.from_public_bytes(_b64url(case["public_key"]))
    (variant,) = [v for v in case["tampered"] if v["name"] == "flipped_signature_bit"]
    with pytest.raises(InvalidSignature):
        public.verify(_b64url(variant["signature"]), SIGNING_DOMAIN + canonical)


# Each invalid envelope's name starts with the field the reference must name in its error.
EXPECTED_FIELD_BY_NAME_PREFIX = [
    ("tenant_id_", "tenant_id"),
    ("event_id_", "event_id"),
    ("key_id_", "key_id"),
    ("occurred_at_", "occurred_at"),
    ("type_", "type"),
    ("payload_", "payload"),
    ("missing_type", "type"),
    ("unknown_field", "event"),
]


def test_invalid_envelopes_name_their_field(document: dict[str, Any]) -> None:
    assert len(document["invalid_envelopes"]) >= 30
    for entry in document["invalid_envelopes"]:
        (expected,) = [f for p, f in EXPECTED_FIELD_BY_NAME_PREFIX if entry["name"].startswith(p)]
        assert entry["field"] == expected, entry["name"]


def _jcs_of(value: Any) -> bytes:
    # The rfc8785 package directly, not ledger.canonical, so a wrapper bug would show up here.
    return rfc8785.dumps(value)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
