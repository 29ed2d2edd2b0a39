"""What the ingest API answers for a stored body it cannot read back verified (docs/api.md):
503 `unavailable` while the cold store is unreachable, 500 `body_unreadable` for damage; the
message names the key, the tier and the reason but not the store (the node's log does)."""

from __future__ import annotations

import pytest

from api.ingest.node import _unreadable
from storage.tiering.read_errors import TieredReadError

STORE = "s3://bucket/ledger pack 0123"

CASES = [
    ("cold", "unavailable", 503, "unavailable"),
    ("cold", "corrupt", 500, "body_unreadable"),
    ("cold", "not_found", 500, "body_unreadable"),
    ("warm", "decode", 500, "body_unreadable"),
    ("warm", "integrity", 500, "body_unreadable"),
]


@pytest.mark.parametrize(("tier", "reason", "status", "code"), CASES)
def test_each_failure_answers_as_documented(tier: str, reason: str, status: int, code: str) -> None:
    answer = _unreadable(TieredReadError("acme", "order-1", tier, STORE, reason, "detail"))

    assert (answer.status, answer.code) == (status, code)
    assert f"{tier} body of acme/order-1" in answer.message and f"({reason})" in answer.message
    assert STORE not in answer.message
