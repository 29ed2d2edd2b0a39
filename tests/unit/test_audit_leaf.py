"""The audit leaf (ledger/audit_leaf.py): round trips, every field in its encoding, the worked
example of docs/audit.md, and a rejection table naming the bad field."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

import pytest

from ledger.audit_leaf import LEAF_DOMAIN, AuditLeaf, decode_leaf, leaf_from_record
from ledger.envelope import EventEnvelope
from ledger.keys import private_key_from_seed
from ledger.record import WalRecord
from ledger.signing import content_digest, sign_event
from tests.conftest import REPO_ROOT

LEAF = AuditLeaf(
    stream="us/n1",
    seq=42,
    hlc=113919011414179847,
    tenant_id="acme",
    event_id="order-0001",
    content_digest="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    key_id="k1",
)


def _doc_block(kind: str) -> str:
    text = (REPO_ROOT / "docs" / "audit.md").read_text()
    match = re.search(rf"```{kind}\n(.*?)```", text, re.S)
    assert match is not None, kind
    return match.group(1)


def test_the_worked_example_of_the_docs_recomputes() -> None:
    fields = json.loads(_doc_block("audit-leaf-json"))
    leaf = AuditLeaf(**{**fields, "seq": int(fields["seq"]), "hlc": int(fields["hlc"])})
    encoding = bytes.fromhex("".join(_doc_block("audit-leaf-hex").split()))
    assert leaf == LEAF
    assert leaf.encode() == encoding
    assert encoding == LEAF_DOMAIN + _doc_block("audit-leaf-json").strip().encode()
    assert leaf.leaf_hash().hex() == _doc_block("audit-leaf-hash").strip()
    assert leaf.leaf_hash() == hashlib.sha256(b"\x00" + encoding).digest()


@pytest.mark.parametrize(
    "leaf",
    [
        LEAF,
        dataclasses.replace(LEAF, seq=1, hlc=0),
        dataclasses.replace(LEAF, seq=2**63 - 1, hlc=2**64 - 1),
        dataclasses.replace(LEAF, stream="eu-west/node-2", event_id="A.b_c:d-1" * 14),
    ],
)
def test_decode_inverts_encode(leaf: AuditLeaf) -> None:
    assert decode_leaf(leaf.encode()) == leaf


@pytest.mark.parametrize(
    ("field", "value", "encoded"),
    [
        ("stream", "eu/n9", '"stream":"eu/n9"'),
        ("seq", 43, '"seq":"43"'),
        ("hlc", 7, '"hlc":"7"'),
        ("tenant_id", "globex", '"tenant_id":"globex"'),
        ("event_id", "order-0002", '"event_id":"order-0002"'),
        ("content_digest", "0" * 64, f'"content_digest":"{"0" * 64}"'),
        ("key_id", "k2", '"key_id":"k2"'),
    ],
)
def test_every_field_is_in_the_encoding_and_changes_the_hash(
    field: str, value: object, encoded: str
) -> None:
    changed = dataclasses.replace(LEAF, **{field: value})
    assert encoded.encode() in changed.encode()
    assert changed.leaf_hash() != LEAF.leaf_hash()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", "us"),
        ("stream", "US/n1"),
        ("seq", 0),
        ("seq", 2**63),
        ("seq", True),
        ("hlc", -1),
        ("hlc", 2**64),
        ("tenant_id", "Acme"),
        ("tenant_id", ""),
        ("event_id", "order 1"),
        ("content_digest", "9F86" + "0" * 60),
        ("content_digest", "00"),
        ("key_id", "k/1"),
        ("key_id", 1),
    ],
)
def test_a_field_out_of_its_rule_is_refused_by_name(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        dataclasses.replace(LEAF, **{field: value})


def _body(**changes: object) -> bytes:
    fields = {**json.loads(LEAF.encode()[len(LEAF_DOMAIN) :]), **changes}
    return LEAF_DOMAIN + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


CANONICAL = LEAF.encode()


@pytest.mark.parametrize(
    ("data", "names"),
    [
        (CANONICAL[len(LEAF_DOMAIN) :], "prefix"),
        (b"geoledger.audit.leaf.v2\x00" + CANONICAL[len(LEAF_DOMAIN) :], "prefix"),
        (LEAF_DOMAIN + b"\xff", "UTF-8 JSON"),
        (LEAF_DOMAIN + b"[]", "fields"),
        (_body(extra="x"), "fields"),
        (LEAF_DOMAIN + CANONICAL[len(LEAF_DOMAIN) :].replace(b',"key_id":"k1"', b""), "fields"),
        (_body(seq=42), "seq: expected a decimal string"),
        (_body(seq="042"), "seq: expected a decimal string"),
        (_body(hlc="-1"), "hlc: expected a decimal string"),
        (_body(seq="0"), "seq: expected an integer"),
        (_body(stream="us"), "stream: "),
        (_body(tenant_id="ACME"), "tenant_id: "),
        (_body(event_id=""), "event_id: "),
        (_body(key_id=7), "key_id: expected a string"),
        (_body(content_digest="x" * 64), "content_digest: "),
        (CANONICAL.replace(b'{"', b'{ "'), "canonical"),
        (CANONICAL.replace(b'"acme"', b'"\\u0061cme"'), "canonical"),
        (LEAF_DOMAIN + json.dumps(json.loads(CANONICAL[len(LEAF_DOMAIN) :])).encode(), "canonical"),
        (CANONICAL[:-1] + b',"key_id":"k1"}', "canonical"),
        (CANONICAL + b"\n", "canonical"),
    ],
)
def test_decode_refuses_anything_but_the_encoding(data: bytes, names: str) -> None:
    with pytest.raises(ValueError, match=re.escape(names)):
        decode_leaf(data)


def test_a_record_becomes_the_leaf_of_its_event() -> None:
    key = private_key_from_seed(bytes(range(32)))
    envelope = EventEnvelope(
        tenant_id="acme",
        event_id="order-0001",
        key_id="k1",
        occurred_at="2025-01-31T23:59:59Z",
        type="order.created",
        payload={"qty": 2},
    )
    event = sign_event(key, envelope)
    record = WalRecord(hlc=99, region="us", node="n1", accepted_at_ms=5, event=event)
    leaf = leaf_from_record("us/n1", 3, record)
    assert leaf == AuditLeaf(
        "us/n1", 3, 99, "acme", "order-0001", content_digest(event).hex(), "k1"
    )
