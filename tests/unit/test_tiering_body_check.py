"""check_body: a body is used only when it is the canonical signed event its key row names. A table
of bodies that must be refused, each for the reason it names (transparency-dev style)."""

from __future__ import annotations

import json

import pytest
import zstandard

from ledger.canonical import canonical_bytes
from ledger.event_wire import parse_signed_event
from ledger.signing import content_digest
from storage.tiering.body_check import check_body
from storage.tiering.errors import BodyIntegrityError
from tests.support.tenants import tenant

ACME = tenant("acme")
EVENT = ACME.event("order-1", {"n": 1, "note": "café"})
BODY = canonical_bytes(EVENT)
DIGEST = content_digest(parse_signed_event(EVENT))


def test_the_applied_body_passes() -> None:
    check_body("acme", "order-1", BODY, DIGEST)


REFUSED = [
    ("not UTF-8", b"\xff" + BODY[1:], "acme", "order-1", DIGEST, "expected a signed event"),
    ("not JSON", BODY[:-1], "acme", "order-1", DIGEST, "expected a signed event"),
    (
        "a zstd frame taken for a raw body",
        zstandard.ZstdCompressor().compress(BODY),
        "acme",
        "order-1",
        DIGEST,
        "expected a signed event",
    ),
    (
        "not a signed event",
        canonical_bytes({"n": 1}),
        "acme",
        "order-1",
        DIGEST,
        "expected a signed event",
    ),
    ("another event id", BODY, "acme", "order-2", DIGEST, "expected that key, got acme/order-1"),
    ("another tenant", BODY, "zeta", "order-1", DIGEST, "expected that key, got acme/order-1"),
    (
        "not canonical",
        json.dumps(EVENT, indent=1).encode(),
        "acme",
        "order-1",
        DIGEST,
        "expected canonical bytes",
    ),
    ("another digest", BODY, "acme", "order-1", bytes(32), "expected content digest 0000"),
    (
        "another payload under the same key",
        canonical_bytes(ACME.event("order-1", {"n": 2})),
        "acme",
        "order-1",
        DIGEST,
        "expected content digest",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "tenant_id", "event_id", "digest", "message"),
    REFUSED,
    ids=[case[0] for case in REFUSED],
)
def test_a_body_that_is_not_the_rows_is_refused(
    case: str, body: bytes, tenant_id: str, event_id: str, digest: bytes, message: str
) -> None:
    with pytest.raises(BodyIntegrityError, match=message) as refused:
        check_body(tenant_id, event_id, body, digest)
    assert (refused.value.tenant_id, refused.value.event_id) == (tenant_id, event_id)
