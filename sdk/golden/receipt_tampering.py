"""The tampered receipts of the vectors' `receipts` section: each entry changes one thing of the
valid receipt (one flipped bit where it can) and names the verification step that must refuse it.

Together they reach every step of `ledger.receipt.ReceiptStep`. A variant gets the valid receipt
as a JSON object and the log's signer (to sign a checkpoint that is wrong in another way than its
signature), and returns a new object; the table's order is part of the vectors.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass

from golden.types import Json
from ledger.canonical import b64url_decode_exact, b64url_encode
from ledger.receipt import ReceiptStep
from ledger.signed_note import NoteSigner, sign_note, split_note

OTHER_ORIGIN = "geoledger.example/audit/eu"


@dataclass(frozen=True)
class ReceiptVariant:
    """One tampering: `tamper(receipt, log signer)`, and the step that refuses the result.
    `witness_key` names the golden key to verify with instead of the witness's own."""

    name: str
    description: str
    step: ReceiptStep
    tamper: Callable[[Json, NoteSigner], Json]
    witness_key: str | None = None


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    """`data` with bit `bit` of byte `position` (negative: from the end) inverted."""
    flipped = bytearray(data)
    flipped[position] ^= 1 << bit
    return bytes(flipped)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _changed(receipt: Json, **fields: object) -> Json:
    result = copy.deepcopy(receipt)
    result.update(fields)
    return result


def _with_leaf(receipt: Json, change: Callable[[bytes], bytes]) -> Json:
    return _changed(receipt, leaf=_b64(change(base64.b64decode(receipt["leaf"]))))


def _with_signature_line(receipt: Json, line: int, bit_at: int) -> Json:
    """The receipt with one bit flipped in signature line `line` (0: the log's) at byte `bit_at`
    of its decoded key id + signature."""
    text, lines = split_note(receipt["checkpoint"])
    prefix, encoded = lines[line].rstrip("\n").rsplit(" ", 1)
    lines[line] = f"{prefix} {_b64(flip(base64.b64decode(encoded), bit_at))}\n"
    return _changed(receipt, checkpoint=text + "\n" + "".join(lines))


def _root_flipped(receipt: Json, _: NoteSigner) -> Json:
    text, lines = split_note(receipt["checkpoint"])
    origin, size, root = text.rstrip("\n").split("\n")
    root = _b64(flip(base64.b64decode(root), 0))
    return _changed(receipt, checkpoint=f"{origin}\n{size}\n{root}\n\n" + "".join(lines))


def _resigned_body(receipt: Json, signer: NoteSigner, change: Callable[[str], str]) -> Json:
    """The receipt with its checkpoint text changed and signed again by the log's key."""
    text, _ = split_note(receipt["checkpoint"])
    return _changed(receipt, checkpoint=sign_note(change(text), [signer]))


def _leaf_seq_flipped(data: bytes) -> bytes:
    return flip(data, data.index(b'"seq":"') + len(b'"seq":"'))


def _leaf_event_id_flipped(data: bytes) -> bytes:
    return flip(data, data.index(b'","hlc"') - 1)


def _event_changed(receipt: Json, **fields: object) -> Json:
    return _changed(receipt, event={**receipt["event"], **fields})


def _event_signature_flipped(receipt: Json, _: NoteSigner) -> Json:
    signature = b64url_decode_exact(receipt["event"]["signature"], 64)
    return _event_changed(receipt, signature=b64url_encode(flip(signature, 10)))


RECEIPT_TAMPERINGS: tuple[ReceiptVariant, ...] = (
    ReceiptVariant(
        "format_changed",
        "another receipt format",
        ReceiptStep.FORMAT,
        lambda r, _: _changed(r, format="geoledger.audit.receipt.v2"),
    ),
    ReceiptVariant(
        "root_bit_flipped",
        "one bit flipped in the checkpoint's root line (re-encoded as base64)",
        ReceiptStep.LOG_SIGNATURE,
        _root_flipped,
    ),
    ReceiptVariant(
        "log_signature_bit_flipped",
        "one bit flipped in the log's signature of the checkpoint",
        ReceiptStep.LOG_SIGNATURE,
        lambda r, _: _with_signature_line(r, 0, 20),
    ),
    ReceiptVariant(
        "origin_not_key_name",
        "a checkpoint of another origin, signed by the log's key",
        ReceiptStep.LOG_SIGNATURE,
        lambda r, signer: _resigned_body(
            r, signer, lambda text: OTHER_ORIGIN + text[text.index("\n") :]
        ),
    ),
    ReceiptVariant(
        "checkpoint_size_not_canonical",
        "a checkpoint text whose size has a leading zero, signed by the log's key",
        ReceiptStep.CHECKPOINT,
        lambda r, signer: _resigned_body(r, signer, lambda text: text.replace("\n7\n", "\n07\n")),
    ),
    ReceiptVariant(
        "cosignature_bit_flipped",
        "one bit flipped in the witness's Ed25519 cosignature",
        ReceiptStep.COSIGNATURE,
        lambda r, _: _with_signature_line(r, 1, 30),
    ),
    ReceiptVariant(
        "cosignature_removed",
        "the checkpoint without the witness's cosignature line",
        ReceiptStep.COSIGNATURE,
        lambda r, signer: _resigned_body(r, signer, lambda text: text),
    ),
    ReceiptVariant(
        "wrong_witness_key",
        "verified with another witness key under the witness's name",
        ReceiptStep.COSIGNATURE,
        lambda r, _: _changed(r),
        witness_key="audit-witness-other",
    ),
    ReceiptVariant(
        "leaf_bit_flipped",
        "one bit flipped in the leaf's seq: it still decodes, its hash is another",
        ReceiptStep.INCLUSION,
        lambda r, _: _with_leaf(r, _leaf_seq_flipped),
    ),
    ReceiptVariant(
        "leaf_not_decodable",
        "one bit flipped in the leaf's closing brace",
        ReceiptStep.LEAF,
        lambda r, _: _with_leaf(r, lambda data: flip(data, -1)),
    ),
    ReceiptVariant(
        "leaf_of_another_event",
        "one bit flipped in the leaf's event_id",
        ReceiptStep.EVENT,
        lambda r, _: _with_leaf(r, _leaf_event_id_flipped),
    ),
    ReceiptVariant(
        "proof_bit_flipped",
        "one bit flipped in the second inclusion proof hash",
        ReceiptStep.INCLUSION,
        lambda r, _: _changed(
            r,
            inclusion_proof=[
                _b64(flip(base64.b64decode(h), 31, 7)) if i == 1 else h
                for i, h in enumerate(r["inclusion_proof"])
            ],
        ),
    ),
    ReceiptVariant(
        "index_plus_one",
        "the leaf index one past the leaf's",
        ReceiptStep.INCLUSION,
        lambda r, _: _changed(r, leaf_index=r["leaf_index"] + 1),
    ),
    ReceiptVariant(
        "proof_element_removed",
        "the inclusion proof without its last hash",
        ReceiptStep.INCLUSION,
        lambda r, _: _changed(r, inclusion_proof=r["inclusion_proof"][:-1]),
    ),
    ReceiptVariant(
        "proof_element_added",
        "the inclusion proof with one more hash (32 zero bytes)",
        ReceiptStep.INCLUSION,
        lambda r, _: _changed(r, inclusion_proof=[*r["inclusion_proof"], _b64(bytes(32))]),
    ),
    ReceiptVariant(
        "event_payload_changed",
        "the event's payload with another amount, signature kept",
        ReceiptStep.EVENT,
        lambda r, _: _event_changed(r, payload={**r["event"]["payload"], "amount": 4251}),
    ),
    ReceiptVariant(
        "event_signature_bit_flipped",
        "one bit flipped in the event's signature (not part of its content digest)",
        ReceiptStep.EVENT_SIGNATURE,
        _event_signature_flipped,
    ),
)
