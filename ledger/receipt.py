"""Audit receipts: the proof, checkable offline, that the log of a region holds a signed event.

A receipt (format `geoledger.audit.receipt.v1`, docs/audit.md "Receipt") is one JSON object
carrying the event's leaf encoding (ledger/audit_leaf.py), its index, its RFC 9162 inclusion proof,
the C2SP checkpoint note the proof leads to with its witnesses' cosignatures, and the signed event
as ingested. `verify_receipt` checks it with nothing but the log's verifier key, the witnesses'
keys and, optionally, the tenant's public key: every step uses the same code the server signs and
hashes with (merkle, signed_note, checkpoint, cosignature, audit_leaf, signing).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ledger import merkle
from ledger.audit_leaf import AuditLeaf, decode_leaf
from ledger.canonical import strict_json_loads
from ledger.checkpoint import parse_checkpoint
from ledger.cosignature import CosignatureVerifier
from ledger.envelope import SignedEvent
from ledger.errors import KeyFormatError, MalformedNoteError, NoteError, ProofError, ReceiptError
from ledger.keys import public_key_from_b64
from ledger.signed_note import (
    NoteVerifier,
    OpenedNote,
    decode_base64,
    open_note,
    parse_signature_line,
)
from ledger.signing import content_digest, verify

RECEIPT_FORMAT = "geoledger.audit.receipt.v1"


class ReceiptStep(StrEnum):
    """The verification steps, in the order `verify_receipt` runs them; a `ReceiptError` names
    the one that failed. The SDKs and the golden vectors use the same names."""

    FORMAT = "format"  # the receipt is a v1 receipt
    LOG_SIGNATURE = "log_signature"  # the note verifies under the log key, origin = key name
    CHECKPOINT = "checkpoint"  # the note text is a checkpoint
    COSIGNATURE = "cosignature"  # each given witness cosigned that checkpoint
    LEAF = "leaf"  # the leaf decodes (strict)
    EVENT = "event"  # the leaf records this event: ids and content digest
    INCLUSION = "inclusion"  # the proof leads from the leaf to the checkpoint's root
    EVENT_SIGNATURE = "event_signature"  # the tenant's key signed the event


class Receipt(BaseModel):
    """A receipt as written: standard base64 (RFC 4648 §4, padded) for the leaf encoding and the
    proof hashes, the checkpoint as its C2SP signed note, the event as ingested. Strict: unknown
    fields, other types and non-canonical base64 are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    format: str
    region: str
    leaf: str
    leaf_index: int = Field(ge=0)
    inclusion_proof: list[str]
    checkpoint: str
    event: SignedEvent

    @field_validator("leaf")
    @classmethod
    def _leaf(cls, value: str) -> str:
        _base64(value, "leaf")
        return value

    @field_validator("inclusion_proof")
    @classmethod
    def _proof(cls, value: list[str]) -> list[str]:
        for position, text in enumerate(value):
            if len(_base64(text, f"inclusion_proof[{position}]")) != merkle.HASH_SIZE:
                raise ValueError(f"inclusion_proof[{position}]: expected a 32-byte hash")
        return value

    def leaf_bytes(self) -> bytes:
        """The leaf encoding."""
        return _base64(self.leaf, "leaf")

    def proof_hashes(self) -> list[bytes]:
        """The inclusion proof, bottom-up (RFC 9162 §2.1.3.1 order)."""
        return [_base64(text, "inclusion_proof") for text in self.inclusion_proof]


class VerifiedReceipt(BaseModel):
    """What a verified receipt proves: the log `origin` at tree `size` with root `root_hex` holds,
    at `leaf_index`, the leaf of the tenant's event; `witnesses` (names, in the order their keys
    were given) cosigned that checkpoint; `event_signature_verified` when the tenant's key was
    given and signed the event."""

    model_config = ConfigDict(frozen=True)

    origin: str
    size: int
    root_hex: str
    leaf_index: int
    tenant_id: str
    event_id: str
    witnesses: list[str]
    event_signature_verified: bool


@dataclass(frozen=True)
class ReceiptKeys:
    """The keys a receipt is verified with, read from their text forms."""

    log: NoteVerifier
    witnesses: tuple[CosignatureVerifier, ...]
    tenant: Ed25519PublicKey | None


def receipt_keys(
    log_vkey: str,
    witness_vkeys: Sequence[str] = (),
    tenant_public_key: Ed25519PublicKey | str | None = None,
) -> ReceiptKeys:
    """The log's Ed25519 note verifier key (C2SP signed-note vkey, type 0x01), the witnesses'
    cosignature verifier keys (C2SP tlog-cosignature, type 0x04) and the tenant's Ed25519 public
    key (a key, or unpadded base64url of its 32 bytes). Raises KeyFormatError naming the key."""
    try:
        log = NoteVerifier.from_vkey(log_vkey)
    except MalformedNoteError as exc:
        raise KeyFormatError(f"log key: {exc}") from None
    witnesses: list[CosignatureVerifier] = []
    for text in dict.fromkeys(witness_vkeys):  # a key given twice is checked once
        try:
            witnesses.append(CosignatureVerifier.from_vkey(text))
        except MalformedNoteError as exc:
            raise KeyFormatError(f"witness key: {exc}") from None
    tenant = tenant_public_key
    if isinstance(tenant, str):
        try:
            tenant = public_key_from_b64(tenant)
        except KeyFormatError as exc:
            raise KeyFormatError(f"tenant key: {exc}") from None
    return ReceiptKeys(log, tuple(witnesses), tenant)


def parse_receipt(text: str | bytes) -> Receipt:
    """The receipt in `text`: UTF-8 JSON (RFC 8259) of one object with exactly the receipt's
    fields, no duplicate member names, the event valid as ingest validates it. Raises
    ReceiptError (step "format") saying what is wrong."""
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        document = strict_json_loads(decoded)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReceiptError(ReceiptStep.FORMAT, f"expected a JSON receipt: {exc}") from None
    if not isinstance(document, dict):
        raise ReceiptError(
            ReceiptStep.FORMAT, f"expected a JSON object, got {type(document).__name__}"
        )
    try:
        return Receipt.model_validate(document)
    except ValidationError as exc:
        raise ReceiptError(ReceiptStep.FORMAT, _first_problem(exc)) from None


def render_receipt(receipt: Receipt) -> str:
    """The receipt as written: indented UTF-8 JSON, fields in model order, final newline."""
    return json.dumps(receipt.model_dump(), indent=2, ensure_ascii=False) + "\n"


def receipt_from_parts(
    region: str,
    leaf: bytes,
    leaf_index: int,
    proof: Sequence[bytes],
    checkpoint_note: str,
    event: SignedEvent,
) -> Receipt:
    """The receipt of `event` whose leaf encoding `leaf` is at `leaf_index` of the log of
    `region`, with its inclusion proof in the checkpoint note (cosignatures included)."""
    return Receipt(
        format=RECEIPT_FORMAT,
        region=region,
        leaf=_b64(leaf),
        leaf_index=leaf_index,
        inclusion_proof=[_b64(node) for node in proof],
        checkpoint=checkpoint_note,
        event=event,
    )


def verify_receipt(
    receipt: Receipt,
    log_vkey: str,
    witness_vkeys: Sequence[str] = (),
    tenant_public_key: Ed25519PublicKey | str | None = None,
) -> VerifiedReceipt:
    """Check every claim of `receipt` (docs/audit.md "Receipt", steps in `ReceiptStep` order):
    its format; the checkpoint note verifies under `log_vkey` (C2SP signed-note) and its origin
    is that key's name; the note text is a checkpoint (C2SP tlog-checkpoint); each witness key
    has a valid cosignature on it (C2SP tlog-cosignature); the leaf decodes strictly and records
    the event's tenant, ids and content digest (SHA-256 of its RFC 8785 envelope); the inclusion
    proof leads from the leaf's hash to the checkpoint's root (RFC 9162 §2.1.3.2); with
    `tenant_public_key`, the event's Ed25519 signature verifies (RFC 8032 §5.1.7).

    Raises KeyFormatError for a key that cannot be read, ReceiptError naming the failed step.
    """
    keys = receipt_keys(log_vkey, witness_vkeys, tenant_public_key)
    if receipt.format != RECEIPT_FORMAT:
        raise ReceiptError(
            ReceiptStep.FORMAT, f"expected format {RECEIPT_FORMAT!r}, got {receipt.format!r}"
        )
    opened = _open_checkpoint_note(receipt.checkpoint, keys.log)
    with _failing_at(ReceiptStep.CHECKPOINT, MalformedNoteError):
        checkpoint = parse_checkpoint(opened.text)
    witnesses = [_check_cosignature(opened, witness) for witness in keys.witnesses]
    with _failing_at(ReceiptStep.LEAF, ValueError):
        leaf = decode_leaf(receipt.leaf_bytes())
    _check_leaf_records_event(leaf, receipt.event)
    with _failing_at(ReceiptStep.INCLUSION, ProofError):
        merkle.verify_inclusion(
            merkle.leaf_hash(receipt.leaf_bytes()),
            receipt.leaf_index,
            checkpoint.size,
            receipt.proof_hashes(),
            checkpoint.root_hash,
        )
    if keys.tenant is not None and not verify(keys.tenant, receipt.event):
        raise ReceiptError(
            ReceiptStep.EVENT_SIGNATURE,
            f"the event's signature does not verify under the given key for {leaf.key_id!r}",
        )
    return VerifiedReceipt(
        origin=checkpoint.origin,
        size=checkpoint.size,
        root_hex=checkpoint.root_hash.hex(),
        leaf_index=receipt.leaf_index,
        tenant_id=leaf.tenant_id,
        event_id=leaf.event_id,
        witnesses=witnesses,
        event_signature_verified=keys.tenant is not None,
    )


@contextmanager
def _failing_at(step: ReceiptStep, *errors: type[Exception]) -> Iterator[None]:
    """Turns `errors` raised in the block into the ReceiptError of `step`, same message."""
    try:
        yield
    except errors as exc:
        raise ReceiptError(step, str(exc)) from None


def _open_checkpoint_note(note: str, log: NoteVerifier) -> OpenedNote:
    # Only the log's key is trusted here: a cosignature line is an unknown key's line to
    # open_note and is checked on its own below, under the witness keys the caller gave.
    with _failing_at(ReceiptStep.LOG_SIGNATURE, NoteError):
        opened = open_note(note, [log])
    origin = opened.text.partition("\n")[0]
    if origin != log.name:
        raise ReceiptError(
            ReceiptStep.LOG_SIGNATURE,
            f"expected the checkpoint origin to be the log key's name {log.name!r}, got {origin!r}",
        )
    return opened


def _check_cosignature(opened: OpenedNote, witness: CosignatureVerifier) -> str:
    """The witness's name when every line under its key is a valid cosignature of the note text
    and there is at least one; else ReceiptError (C2SP tlog-cosignature §Verifying)."""
    lines = [
        signature
        for name, key_id, signature in (parse_signature_line(line) for line in opened.unverified)
        if (name, key_id) == (witness.name, witness.key_id)
    ]
    described = f"{witness.name}+{witness.key_id.hex()}"
    if not lines:
        raise ReceiptError(ReceiptStep.COSIGNATURE, f"expected a cosignature by {described}")
    for signature in lines:
        if witness.timestamp(opened.text.encode(), signature) is None:
            raise ReceiptError(
                ReceiptStep.COSIGNATURE, f"the cosignature by {described} does not verify"
            )
    return witness.name


def _check_leaf_records_event(leaf: AuditLeaf, event: SignedEvent) -> None:
    expected = {
        "tenant_id": event.tenant_id,
        "event_id": event.event_id,
        "key_id": event.key_id,
        "content_digest": content_digest(event).hex(),
    }
    for name, value in expected.items():
        if getattr(leaf, name) != value:
            raise ReceiptError(
                ReceiptStep.EVENT,
                f"the leaf's {name} is {getattr(leaf, name)!r}, the event's is {value!r}",
            )


def _base64(text: str, what: str) -> bytes:
    try:
        return decode_base64(text, what)
    except MalformedNoteError as exc:
        raise ValueError(str(exc)) from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _first_problem(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'receipt'}: {error['msg']}"
        for error in exc.errors()
    ]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
