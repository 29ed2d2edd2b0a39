"""Signed reads reproduce the golden `read_requests` (sdk/golden/vectors.json) byte for byte."""

from __future__ import annotations

from typing import Any

import pytest

from geoledger_sdk import (
    READ_SIGNING_VERSION,
    Signer,
    private_key_from_seed,
    read_signing_string,
    sign_read,
)

from .conftest import load_golden

GOLDEN = load_golden()
READS = GOLDEN["read_requests"]
KEYS = {entry["name"]: entry for entry in GOLDEN["keys"]}


def test_version() -> None:
    assert READS["version"] == READ_SIGNING_VERSION
    assert len(READS["cases"]) >= 4


@pytest.mark.parametrize("case", READS["cases"], ids=lambda case: case["name"])
def test_read_case(case: dict[str, Any]) -> None:
    key = private_key_from_seed(bytes.fromhex(KEYS[case["key"]]["seed_hex"]))
    body = bytes.fromhex(case["body_hex"])
    canonical = read_signing_string(case["method"], case["path"], body, case["ts"], case["key_id"])
    assert canonical == case["canonical"].encode("ascii")
    header = sign_read(key, case["key_id"], case["method"], case["path"], body, case["ts"])
    assert header == case["authorization"]
    signer = Signer(key, tenant_id="acme")
    assert signer.key_id == case["key_id"]
    assert signer.authorize_read(case["method"], case["path"], body, case["ts"]) == header


@pytest.mark.parametrize(
    ("method", "path", "key_id"),
    [
        ("get", "/v1/events/a/b", "k"),
        ("GET", "v1/events/a/b", "k"),
        ("GET", "/v1/events/a/b?x=1", "k"),
        ("GET", "/v1/events/a b", "k"),
        ("GET", "/v1/events/a/b", "k,1"),
    ],
)
def test_unsignable_request_parts_are_refused(method: str, path: str, key_id: str) -> None:
    with pytest.raises(ValueError):
        read_signing_string(method, path, b"", 0, key_id)
