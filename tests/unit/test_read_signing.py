"""Signed reads against the golden `read_requests` (sdk/golden/vectors.json): the canonical
string recomputed independently of ledger/read_signing.py, and the node's verdict on each case
and each tampered copy."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.ingest.errors import ReadUnauthorized
from api.ingest.read_auth import ReadAuthenticator, Reader
from api.ingest.verify import KnownKey
from cli.sdk import DEFAULT_VECTORS_PATH
from ledger.errors import ReadCredentialError
from ledger.keys import public_key_bytes
from ledger.read_signing import parse_authorization, read_signing_string

GOLDEN: dict[str, Any] = json.loads(DEFAULT_VECTORS_PATH.read_text())
READS = GOLDEN["read_requests"]["cases"]
TAMPERED = [(case, variant) for case in READS for variant in case["tampered"]]
SEEDS = {entry["name"]: bytes.fromhex(entry["seed_hex"]) for entry in GOLDEN["keys"]}


class GoldenKeys:
    """The key registry holding the golden keys, each as tenant `owner-<name>`."""

    def __init__(self) -> None:
        self.keys = {
            entry["key_id"]: KnownKey(
                entry["key_id"], f"owner-{entry['name']}", _public(entry["name"]), False
            )
            for entry in GOLDEN["keys"]
        }

    async def key(self, key_id: str) -> KnownKey | None:
        return self.keys.get(key_id)

    async def tenant_exists(self, tenant_id: str) -> bool:
        return True


def _public(name: str) -> bytes:
    return public_key_bytes(Ed25519PrivateKey.from_private_bytes(SEEDS[name]).public_key())


def authenticator(now: int) -> ReadAuthenticator:
    return ReadAuthenticator(GoldenKeys(), max_skew_s=300, clock=lambda: float(now))


@pytest.mark.parametrize("case", READS, ids=lambda case: case["name"])
def test_the_canonical_string_is_the_six_lines(case: dict[str, Any]) -> None:
    body = bytes.fromhex(case["body_hex"])
    lines = [
        "geoledger-read-v1",
        case["method"],
        case["path"],
        hashlib.sha256(body).hexdigest(),
        str(case["ts"]),
        case["key_id"],
    ]
    assert case["canonical"] == "\n".join(lines)
    built = read_signing_string(case["method"], case["path"], body, case["ts"], case["key_id"])
    assert built == "\n".join(lines).encode("ascii")
    # The signature is Ed25519 over exactly those bytes (checked by `cryptography`, not the
    # node's libsodium path).
    key = Ed25519PrivateKey.from_private_bytes(SEEDS[case["key"]])
    key.public_key().verify(parse_authorization(case["authorization"]).signature, built)


@pytest.mark.parametrize("case", READS, ids=lambda case: case["name"])
async def test_the_node_accepts_each_case(case: dict[str, Any]) -> None:
    reader = await authenticator(case["ts"]).authenticate(
        case["method"], case["path"], bytes.fromhex(case["body_hex"]), case["authorization"]
    )
    assert reader == Reader(case["key_id"], f"owner-{case['key']}")


@pytest.mark.parametrize(
    ("case", "variant"), TAMPERED, ids=[f"{c['name']}-{v['name']}" for c, v in TAMPERED]
)
async def test_the_node_refuses_each_tampering(
    case: dict[str, Any], variant: dict[str, Any]
) -> None:
    assert variant["valid"] is False
    with pytest.raises(ReadUnauthorized) as refused:
        await authenticator(case["ts"]).authenticate(
            variant["method"],
            variant["path"],
            bytes.fromhex(variant["body_hex"]),
            variant["authorization"],
        )
    assert refused.value.detail == "bad_signature"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer x",
        "geoledger-ed25519 key_id=k, ts=1, sig=" + "A" * 86,
        "GEOLEDGER-ED25519 ts=1, key_id=k, sig=" + "A" * 86,
        "GEOLEDGER-ED25519 key_id=k, ts=-1, sig=" + "A" * 86,
        "GEOLEDGER-ED25519 key_id=k, ts=1, sig=" + "A" * 85 + "=",
        "GEOLEDGER-ED25519 key_id=k, ts=1, sig=" + "A" * 85 + "B",  # non-zero pad bits
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(ReadCredentialError):
        parse_authorization(header)


async def test_the_window_holds_both_ways() -> None:
    case = READS[0]
    parts = (case["method"], case["path"], b"", case["authorization"])
    for now in (case["ts"] - 300, case["ts"] + 300):
        await authenticator(now).authenticate(*parts)
    for now in (case["ts"] - 301, case["ts"] + 301):
        with pytest.raises(ReadUnauthorized) as refused:
            await authenticator(now).authenticate(*parts)
        assert refused.value.detail == "stale_timestamp"
