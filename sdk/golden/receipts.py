"""The vectors' `receipts` section: one audit receipt built by the server's code, and tampered
copies of it, each with the verification step that must refuse it.

The receipt proves the tenant's event at index 5 of a log of 7 leaves (a MemoryTree; the other
leaves are fixed records of other events), in the checkpoint signed by the golden log key and
cosigned by the golden witness key at a fixed time. Every key is derived from a published seed
(keys.py), so the section is the same on every run.
"""

from __future__ import annotations

import hashlib

from golden.keys import golden_key
from golden.receipt_tampering import RECEIPT_TAMPERINGS, ReceiptVariant
from golden.types import Json
from ledger.audit_leaf import AuditLeaf
from ledger.checkpoint import Checkpoint
from ledger.cosignature import CosignatureSigner
from ledger.envelope import EventEnvelope, SignedEvent
from ledger.errors import ReceiptError
from ledger.keys import key_id_for, public_key_to_b64
from ledger.merkle import MemoryTree
from ledger.receipt import (
    RECEIPT_FORMAT,
    Receipt,
    ReceiptStep,
    receipt_from_parts,
    verify_receipt,
)
from ledger.signed_note import NoteSigner, sign_note
from ledger.signing import content_digest, sign_event

REGION = "us"
ORIGIN = "geoledger.example/audit/us"
WITNESS = "geoledger.example/witness/eu"
TENANT_KEY = "key-1"
LOG_KEY = "audit-log"
WITNESS_KEY = "audit-witness"
OTHER_WITNESS_KEY = "audit-witness-other"
COSIGNED_AT = 1767225600  # 2026-01-01T00:00:00Z
LOG_SIZE = 7
EVENT_INDEX = 5
STREAM = "us/n1"
FIRST_SEQ = 40
FIRST_HLC = 113919011414179840


def log_signer() -> NoteSigner:
    """The log's checkpoint signer: the golden key `audit-log` under the origin's name."""
    return NoteSigner(ORIGIN, golden_key(LOG_KEY))


def witness_signer(key: str = WITNESS_KEY) -> CosignatureSigner:
    """The witness's cosigner: the golden key `audit-witness` (or `key`) under WITNESS."""
    return CosignatureSigner(WITNESS, golden_key(key))


def proved_event() -> SignedEvent:
    """The event the receipt proves, signed by the golden tenant key."""
    key = golden_key(TENANT_KEY)
    envelope = EventEnvelope(
        tenant_id="acme",
        event_id="order-0001",
        key_id=key_id_for(key.public_key()),
        occurred_at="2026-01-01T00:00:00Z",
        type="order.created",
        payload={"order_id": "A-1001", "amount": 4250, "currency": "EUR"},
    )
    return sign_event(key, envelope)


def _leaf(position: int, event: SignedEvent | None) -> AuditLeaf:
    """The record at `position` of the log: the proved event at EVENT_INDEX, other fixed events
    elsewhere (their digests stand for envelopes never shown)."""
    return AuditLeaf(
        stream=STREAM,
        seq=FIRST_SEQ + position,
        hlc=FIRST_HLC + position,
        tenant_id=event.tenant_id if event else "globex",
        event_id=event.event_id if event else f"evt-{position:03d}",
        content_digest=(
            content_digest(event).hex()
            if event
            else hashlib.sha256(f"golden-audit-leaf-{position}".encode()).hexdigest()
        ),
        key_id=event.key_id if event else "k1",
    )


def golden_receipt() -> Receipt:
    """The valid receipt: leaf EVENT_INDEX of a LOG_SIZE-leaf log, checkpoint cosigned."""
    event = proved_event()
    leaves = [_leaf(i, event if i == EVENT_INDEX else None) for i in range(LOG_SIZE)]
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf.leaf_hash())
    body = Checkpoint(ORIGIN, tree.size, tree.root()).body()
    note = sign_note(body, [log_signer()]) + witness_signer().cosign(body, COSIGNED_AT)
    return receipt_from_parts(
        REGION,
        leaves[EVENT_INDEX].encode(),
        EVENT_INDEX,
        tree.inclusion_proof(EVENT_INDEX),
        note,
        event,
    )


def receipts_section() -> Json:
    """The `receipts` section: keys, the valid receipt and what verifying it yields, and the
    tampered variants with the step that refuses each (checked here against the reference)."""
    receipt = golden_receipt()
    log_vkey, witness_vkey = log_signer().vkey(), witness_signer().vkey()
    tenant_key = public_key_to_b64(golden_key(TENANT_KEY).public_key())
    verified = verify_receipt(receipt, log_vkey, [witness_vkey], tenant_key)
    document = receipt.model_dump()
    return {
        "description": (
            "Audit receipts (docs/audit.md, Receipt): verify_receipt(receipt, log_vkey, "
            "witness_vkeys, tenant_public_key) accepts `receipt` with `expected`, and refuses "
            "each tampered receipt at `step`. Keys are golden test keys (seed_recipe)."
        ),
        "format": RECEIPT_FORMAT,
        "steps": [step.value for step in ReceiptStep],
        "keys": {
            name: {
                "seed_recipe": f'sha256(b"geoledger-golden-{name}")',
                "seed_hex": hashlib.sha256(f"geoledger-golden-{name}".encode()).hexdigest(),
            }
            for name in (LOG_KEY, WITNESS_KEY, OTHER_WITNESS_KEY, TENANT_KEY)
        },
        "log_vkey": log_vkey,
        "witness_vkeys": [witness_vkey],
        "tenant_public_key": tenant_key,
        "leaf_hex": receipt.leaf_bytes().hex(),
        "receipt": document,
        "expected": verified.model_dump(),
        "tampered": [
            _tampered_entry(variant, document, log_vkey, witness_vkey, tenant_key)
            for variant in RECEIPT_TAMPERINGS
        ],
    }


def _tampered_entry(
    variant: ReceiptVariant, document: Json, log_vkey: str, witness_vkey: str, tenant_key: str
) -> Json:
    entry: Json = {"name": variant.name, "description": variant.description}
    tampered = variant.tamper(document, log_signer())
    witness_vkeys = [witness_signer(variant.witness_key).vkey()] if variant.witness_key else None
    entry["receipt"] = tampered
    if witness_vkeys is not None:
        entry["witness_vkeys"] = witness_vkeys
    entry["step"] = variant.step.value
    # The reference must refuse it at that step, or the table is wrong.
    try:
        verify_receipt(
            Receipt.model_validate(tampered),
            log_vkey,
            witness_vkeys or [witness_vkey],
            tenant_key,
        )
    except ReceiptError as exc:
        if exc.step != variant.step:
            raise AssertionError(f"{variant.name}: refused at {exc}, not {variant.step}") from exc
        return entry
    raise AssertionError(f"{variant.name}: the reference accepted the tampered receipt")
