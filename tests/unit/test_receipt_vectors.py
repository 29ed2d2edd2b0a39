"""The server's verify_receipt on the golden receipts (sdk/golden/vectors.json `receipts`): the
valid one verifies to the expected fields, each tampered one fails at its step; reading a
receipt and its keys refuses what is not one."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from cli.sdk import DEFAULT_VECTORS_PATH
from ledger.errors import KeyFormatError, ReceiptError
from ledger.receipt import (
    Receipt,
    ReceiptStep,
    parse_receipt,
    render_receipt,
    verify_receipt,
)
from tests.conftest import REPO_ROOT

SECTION: dict[str, Any] = json.loads(DEFAULT_VECTORS_PATH.read_text(encoding="utf-8"))["receipts"]
TAMPERED = SECTION["tampered"]
PROOF: list[str] = SECTION["receipt"]["inclusion_proof"]


def _parsed(document: dict[str, Any]) -> Receipt:
    return parse_receipt(json.dumps(document))


def test_the_valid_receipt_verifies_to_the_expected_fields() -> None:
    verified = verify_receipt(
        _parsed(SECTION["receipt"]),
        SECTION["log_vkey"],
        SECTION["witness_vkeys"],
        SECTION["tenant_public_key"],
    )
    assert verified.model_dump() == SECTION["expected"]
    assert verified.witnesses == ["geoledger.example/witness/eu"]
    assert verified.event_signature_verified is True


def test_without_witness_or_tenant_keys_less_is_claimed() -> None:
    verified = verify_receipt(_parsed(SECTION["receipt"]), SECTION["log_vkey"])
    assert verified.witnesses == []
    assert verified.event_signature_verified is False


@pytest.mark.parametrize("entry", TAMPERED, ids=[entry["name"] for entry in TAMPERED])
def test_each_tampered_receipt_fails_at_its_step(entry: dict[str, Any]) -> None:
    with pytest.raises(ReceiptError) as caught:
        verify_receipt(
            _parsed(entry["receipt"]),
            SECTION["log_vkey"],
            entry.get("witness_vkeys", SECTION["witness_vkeys"]),
            SECTION["tenant_public_key"],
        )
    assert caught.value.step == entry["step"]
    assert str(caught.value).startswith(f"{entry['step']}: ")


def test_the_tampered_table_reaches_every_step() -> None:
    assert SECTION["steps"] == [step.value for step in ReceiptStep]
    assert {entry["step"] for entry in TAMPERED} == set(SECTION["steps"])


def test_the_example_of_the_docs_is_the_golden_receipt() -> None:
    text = (REPO_ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    match = re.search(r"```audit-receipt-json\n(.*?)```", text, re.S)
    assert match is not None
    assert json.loads(match.group(1)) == SECTION["receipt"]
    assert SECTION["log_vkey"] in text and SECTION["expected"]["root_hex"] in text


def test_a_rendered_receipt_reads_back_equal() -> None:
    receipt = _parsed(SECTION["receipt"])
    assert parse_receipt(render_receipt(receipt)) == receipt
    assert parse_receipt(render_receipt(receipt).encode()) == receipt


def _edited(**changes: Any) -> str:
    return json.dumps({**SECTION["receipt"], **changes})


UNREADABLE = {
    "not_json": "{",
    "not_an_object": "[]",
    "nan_member": _edited()[:-1] + ', "extra": NaN}',
    "unknown_field": _edited(note="hello"),
    "missing_field": json.dumps({k: v for k, v in SECTION["receipt"].items() if k != "leaf"}),
    "duplicate_member": _edited()[:-1] + ', "leaf_index": 4}',
    "index_as_string": _edited(leaf_index="5"),
    "index_as_bool": _edited(leaf_index=True),
    "negative_index": _edited(leaf_index=-1),
    "leaf_not_base64": _edited(leaf=SECTION["receipt"]["leaf"] + "!"),
    "proof_hash_unpadded": _edited(inclusion_proof=[h.rstrip("=") for h in PROOF]),
    "proof_hash_url_alphabet": _edited(inclusion_proof=[h.replace("/", "_") for h in PROOF]),
    "short_proof_hash": _edited(inclusion_proof=[base64.b64encode(bytes(31)).decode()]),
    "invalid_event": _edited(event={**SECTION["receipt"]["event"], "tenant_id": "Acme"}),
    "event_with_extra_field": _edited(event={**SECTION["receipt"]["event"], "extra": 1}),
}


@pytest.mark.parametrize("text", UNREADABLE.values(), ids=list(UNREADABLE))
def test_what_is_not_a_receipt_is_refused_at_format(text: str) -> None:
    with pytest.raises(ReceiptError) as caught:
        parse_receipt(text)
    assert caught.value.step == ReceiptStep.FORMAT


def test_bytes_that_are_not_utf8_are_refused_at_format() -> None:
    with pytest.raises(ReceiptError, match="format"):
        parse_receipt(json.dumps(SECTION["receipt"]).encode() + b"\xff")


@pytest.mark.parametrize(
    ("log", "witness", "tenant", "named"),
    [
        ("not-a-key", [], None, "log key"),
        # A cosigner key (type 0x04) is not a log key (0x01), and the other way round.
        (SECTION["witness_vkeys"][0], [], None, "log key"),
        (SECTION["log_vkey"], [SECTION["log_vkey"]], None, "witness key"),
        (SECTION["log_vkey"], [], "AAAA", "tenant key"),
    ],
)
def test_a_key_that_cannot_be_read_is_named(
    log: str, witness: list[str], tenant: str | None, named: str
) -> None:
    with pytest.raises(KeyFormatError, match=named):
        verify_receipt(_parsed(SECTION["receipt"]), log, witness, tenant)
