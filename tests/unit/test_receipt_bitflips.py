"""No receipt verifies once any one bit of its leaf, inclusion proof, checkpoint note or event is
flipped: every bit, one at a time, of the golden receipt (sdk/golden/receipts.py)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from golden.keys import golden_key
from golden.receipts import TENANT_KEY, golden_receipt, log_signer, witness_signer
from ledger.errors import ReceiptError
from ledger.keys import public_key_to_b64
from ledger.receipt import Receipt, parse_receipt, render_receipt, verify_receipt

RECEIPT = golden_receipt()
LOG_KEY = log_signer().vkey()
WITNESS_KEYS = [witness_signer().vkey()]
TENANT = public_key_to_b64(golden_key(TENANT_KEY).public_key())


def flips(data: bytes) -> Iterator[bytes]:
    """`data` with one bit inverted, for every bit."""
    for position in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            yield bytes(flipped)


def refused(receipt: Receipt | bytes) -> bool:
    """True when reading (for bytes) or verifying the receipt raises ReceiptError."""
    try:
        parsed = parse_receipt(receipt) if isinstance(receipt, bytes) else receipt
        verify_receipt(parsed, LOG_KEY, WITNESS_KEYS, TENANT)
    except ReceiptError:
        return True
    return False


def _with(**fields: Any) -> Receipt:
    return Receipt.model_validate({**RECEIPT.model_dump(), **fields})


def test_the_unflipped_receipt_verifies() -> None:
    assert not refused(RECEIPT)
    assert not refused(render_receipt(RECEIPT).encode())


def test_every_bit_of_the_leaf() -> None:
    accepted = [
        flipped
        for flipped in flips(RECEIPT.leaf_bytes())
        if not refused(_with(leaf=base64.b64encode(flipped).decode()))
    ]
    assert accepted == []


@pytest.mark.parametrize("element", range(len(RECEIPT.inclusion_proof)))
def test_every_bit_of_each_proof_hash(element: int) -> None:
    proof = RECEIPT.proof_hashes()
    accepted = []
    for flipped in flips(proof[element]):
        changed = [base64.b64encode(h).decode() for h in proof]
        changed[element] = base64.b64encode(flipped).decode()
        if not refused(_with(inclusion_proof=changed)):
            accepted.append(flipped)
    assert accepted == []


def test_every_bit_of_the_checkpoint_note() -> None:
    accepted, not_utf8 = [], 0
    for flipped in flips(RECEIPT.checkpoint.encode()):
        try:
            note = flipped.decode("utf-8")
        except UnicodeDecodeError:
            not_utf8 += 1  # no JSON text holds it: the receipt bytes are refused below
            continue
        if not refused(_with(checkpoint=note)):
            accepted.append(note)
    assert accepted == []
    assert 0 < not_utf8 < len(RECEIPT.checkpoint.encode()) * 8 // 4


def test_every_bit_of_the_event_as_written() -> None:
    # Flipped in the receipt's JSON text, from the event's member name to its closing brace: a
    # changed name, value, signature or structure is refused when read or when verified.
    text = render_receipt(RECEIPT).encode()
    start, end = text.index(b'"event": {'), text.rindex(b"}")
    accepted = [
        position for position in range(start * 8, end * 8) if not refused(_flip_bit(text, position))
    ]
    assert accepted == []


def test_bytes_that_are_not_utf8_are_refused() -> None:
    text = render_receipt(RECEIPT).encode()
    em_dash = text.index("\u2014".encode())
    assert refused(_flip_bit(text, em_dash * 8 + 6))


def _flip_bit(data: bytes, position: int) -> bytes:
    flipped = bytearray(data)
    flipped[position // 8] ^= 1 << (position % 8)
    return bytes(flipped)
