"""verify_receipt agrees with the server's reference on every golden receipt vector
(sdk/golden/vectors.json `receipts`), and refuses any one flipped bit of a receipt."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from typing import Any

import pytest

from geoledger_sdk import KeyFormatError, ReceiptError, VerifiedReceipt, verify_receipt

from .conftest import load_golden

SECTION = load_golden()["receipts"]
TAMPERED = SECTION["tampered"]
LOG_KEY = SECTION["log_vkey"]
WITNESS_KEYS = SECTION["witness_vkeys"]
TENANT_KEY = SECTION["tenant_public_key"]


def test_the_valid_receipt_verifies_to_the_expected_fields() -> None:
    verified = verify_receipt(SECTION["receipt"], LOG_KEY, WITNESS_KEYS, TENANT_KEY)
    assert isinstance(verified, VerifiedReceipt)
    assert dataclasses.asdict(verified) == SECTION["expected"]


def test_the_receipt_as_json_text_verifies() -> None:
    text = json.dumps(SECTION["receipt"], indent=2, ensure_ascii=False)
    verified = verify_receipt(text, LOG_KEY)
    assert (verified.witnesses, verified.event_signature_verified) == ([], False)


@pytest.mark.parametrize("entry", TAMPERED, ids=[entry["name"] for entry in TAMPERED])
def test_each_tampered_receipt_fails_at_the_step_the_server_names(entry: dict[str, Any]) -> None:
    with pytest.raises(ReceiptError) as caught:
        verify_receipt(
            entry["receipt"], LOG_KEY, entry.get("witness_vkeys", WITNESS_KEYS), TENANT_KEY
        )
    assert caught.value.step == entry["step"]


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        json.dumps({**SECTION["receipt"], "note": 1}),
        json.dumps(SECTION["receipt"])[:-1] + ', "leaf_index": 4}',
    ],
    ids=["not_json", "not_an_object", "unknown_field", "duplicate_member"],
)
def test_what_is_not_a_receipt_fails_at_format(text: str) -> None:
    with pytest.raises(ReceiptError) as caught:
        verify_receipt(text, LOG_KEY)
    assert caught.value.step == "format"


def test_a_key_that_cannot_be_read_is_a_key_error() -> None:
    with pytest.raises(KeyFormatError, match="log key"):
        verify_receipt(SECTION["receipt"], WITNESS_KEYS[0])
    with pytest.raises(KeyFormatError, match="witness key"):
        verify_receipt(SECTION["receipt"], LOG_KEY, [LOG_KEY])


def _flipped(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position // 8] ^= 1 << (position % 8)
    return bytes(changed)


def _refused(receipt: dict[str, Any]) -> bool:
    try:
        verify_receipt(receipt, LOG_KEY, WITNESS_KEYS, TENANT_KEY)
    except ReceiptError:
        return True
    return False


def test_no_flipped_bit_of_the_leaf_or_the_proof_verifies() -> None:
    receipt = SECTION["receipt"]
    leaf = base64.b64decode(receipt["leaf"])
    accepted = [
        position
        for position in range(len(leaf) * 8)
        if not _refused({**receipt, "leaf": base64.b64encode(_flipped(leaf, position)).decode()})
    ]
    for element, text in enumerate(receipt["inclusion_proof"]):
        node = base64.b64decode(text)
        for position in range(len(node) * 8):
            proof = copy.copy(receipt["inclusion_proof"])
            proof[element] = base64.b64encode(_flipped(node, position)).decode()
            if not _refused({**receipt, "inclusion_proof": proof}):
                accepted.append(position)
    assert accepted == []


def test_no_flipped_bit_of_the_checkpoint_note_verifies() -> None:
    receipt = SECTION["receipt"]
    note = receipt["checkpoint"].encode()
    accepted = []
    for position in range(len(note) * 8):
        try:
            changed = _flipped(note, position).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not _refused({**receipt, "checkpoint": changed}):
            accepted.append(position)
    assert accepted == []
