"""Offline verification of geoledger audit receipts (format `geoledger.audit.receipt.v1`).

A receipt proves that a region's append-only audit log holds one of your signed events: it carries
the event, the log's leaf for it, the leaf's RFC 9162 inclusion proof, and the log's checkpoint
(a C2SP signed note) cosigned by witnesses. `verify_receipt` checks all of it with the keys you
trust and nothing else: no server, no configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from geoledger_sdk._merkle import HASH_SIZE, inclusion_problem, leaf_hash
from geoledger_sdk._note import (
    COSIGNATURE_TYPE,
    ED25519_TYPE,
    NoteKey,
    SignatureLine,
    cosignature_valid,
    parse_checkpoint,
    split_note,
    strict_b64decode,
)
from geoledger_sdk.canonical import canonicalize
from geoledger_sdk.envelope import SignedEvent
from geoledger_sdk.errors import (
    CanonicalizationError,
    InvalidEventError,
    ReceiptError,
)
from geoledger_sdk.keys import public_key_from_b64
from geoledger_sdk.signing import content_digest, verify

RECEIPT_FORMAT = "geoledger.audit.receipt.v1"
LEAF_DOMAIN = b"geoledger.audit.leaf.v1\x00"
_RECEIPT_FIELDS = {
    "format": str,
    "region": str,
    "leaf": str,
    "leaf_index": int,
    "inclusion_proof": list,
    "checkpoint": str,
    "event": dict,
}
_LEAF_FIELDS = {"stream", "seq", "hlc", "tenant_id", "event_id", "content_digest", "key_id"}
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
_STREAM = re.compile(r"[a-z][a-z0-9-]{0,31}/[a-z][a-z0-9-]{0,31}", re.ASCII)
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)


@dataclass(frozen=True)
class VerifiedReceipt:
    """What a verified receipt proves: the log `origin` at tree `size` with root `root_hex` holds,
    at `leaf_index`, the leaf of the tenant's event `event_id`; `witnesses` (names, in the order
    their keys were given) cosigned that checkpoint; `event_signature_verified` when the tenant's
    public key was given and signed the event."""

    origin: str
    size: int
    root_hex: str
    leaf_index: int
    tenant_id: str
    event_id: str
    witnesses: list[str]
    event_signature_verified: bool


def verify_receipt(
    receipt: str | Mapping[str, Any],
    log_key: str,
    witness_keys: Sequence[str] = (),
    tenant_public_key: Ed25519PublicKey | str | None = None,
) -> VerifiedReceipt:
    """Verify a receipt (its JSON text, or the parsed object) offline.

    `log_key` is the region log's verifier key ("name+hex8+base64", C2SP signed-note Ed25519),
    `witness_keys` the cosignature verifier keys of the witnesses that must have cosigned, and
    `tenant_public_key` (optional) the tenant's Ed25519 key (a key, or unpadded base64url) to
    check the event's signature with. Raises KeyFormatError for a key that cannot be read and
    ReceiptError, whose `step` names the failed check, for a receipt that does not verify.
    """
    log = NoteKey.parse(log_key, ED25519_TYPE, "log key")
    witnesses = [
        NoteKey.parse(text, COSIGNATURE_TYPE, "witness key") for text in dict.fromkeys(witness_keys)
    ]
    tenant = tenant_public_key
    if isinstance(tenant, str):
        tenant = public_key_from_b64(tenant)
    fields = _read(receipt)
    leaf, proof, event = _decoded_parts(fields)
    if fields["format"] != RECEIPT_FORMAT:
        raise ReceiptError("format", f"expected {RECEIPT_FORMAT!r}, got {fields['format']!r}")
    text, lines = _verified_checkpoint_note(fields["checkpoint"], log)
    checkpoint = parse_checkpoint(text)
    if isinstance(checkpoint, str):
        raise ReceiptError("checkpoint", checkpoint)
    origin, size, root = checkpoint
    for witness in witnesses:
        _check_cosignature(witness, text, lines)
    decoded = _decode_leaf(leaf)
    _check_leaf_records_event(decoded, event)
    problem = inclusion_problem(leaf_hash(leaf), fields["leaf_index"], size, proof, root)
    if problem is not None:
        raise ReceiptError("inclusion", problem)
    if tenant is not None and not verify(tenant, event):
        raise ReceiptError("event_signature", "the event's signature does not verify")
    return VerifiedReceipt(
        origin=origin,
        size=size,
        root_hex=root.hex(),
        leaf_index=fields["leaf_index"],
        tenant_id=decoded["tenant_id"],
        event_id=decoded["event_id"],
        witnesses=[witness.name for witness in witnesses],
        event_signature_verified=tenant is not None,
    )


def _read(receipt: str | Mapping[str, Any]) -> dict[str, Any]:
    """The receipt's members, each of its type; ReceiptError("format") otherwise."""
    if isinstance(receipt, str):
        try:
            receipt = json.loads(receipt, object_pairs_hook=_unique_members)
        except ValueError as exc:
            raise ReceiptError("format", f"expected a JSON receipt: {exc}") from None
    if not isinstance(receipt, Mapping):
        raise ReceiptError("format", f"expected a JSON object, got {type(receipt).__name__}")
    if set(receipt) != set(_RECEIPT_FIELDS):
        raise ReceiptError(
            "format", f"expected the fields {sorted(_RECEIPT_FIELDS)}, got {sorted(receipt)}"
        )
    for name, kind in _RECEIPT_FIELDS.items():
        value = receipt[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ReceiptError("format", f"{name}: expected a {kind.__name__}")
    if receipt["leaf_index"] < 0:
        raise ReceiptError("format", "leaf_index: expected an index >= 0")
    return dict(receipt)


def _decoded_parts(fields: dict[str, Any]) -> tuple[bytes, list[bytes], SignedEvent]:
    leaf = strict_b64decode(fields["leaf"])
    if leaf is None:
        raise ReceiptError("format", "leaf: expected canonical standard base64")
    proof: list[bytes] = []
    for position, text in enumerate(fields["inclusion_proof"]):
        node = strict_b64decode(text) if isinstance(text, str) else None
        if node is None or len(node) != HASH_SIZE:
            raise ReceiptError("format", f"inclusion_proof[{position}]: expected a base64 hash")
        proof.append(node)
    try:
        event = SignedEvent.from_dict(fields["event"])
    except InvalidEventError as exc:
        raise ReceiptError("format", f"event: {exc}") from None
    return leaf, proof, event


def _verified_checkpoint_note(note: str, log: NoteKey) -> tuple[str, list[SignatureLine]]:
    """The note text and signature lines when the log's key signed it (C2SP signed-note) and
    its origin line is the key's name; ReceiptError("log_signature") otherwise."""
    split = split_note(note)
    if isinstance(split, str):
        raise ReceiptError("log_signature", split)
    text, lines = split
    signed = [line for line in lines if (line.name, line.key_id) == (log.name, log.key_id)]
    if not signed:
        raise ReceiptError("log_signature", f"expected a signature by the log key {log.name}")
    if not all(log.verifies(line.signature, text.encode()) for line in signed):
        raise ReceiptError("log_signature", f"the signature by the log key {log.name} is invalid")
    origin = text.partition("\n")[0]
    if origin != log.name:
        raise ReceiptError(
            "log_signature", f"expected the origin {log.name!r} (the key's name), got {origin!r}"
        )
    return text, lines


def _check_cosignature(witness: NoteKey, text: str, lines: Sequence[SignatureLine]) -> None:
    mine = [line for line in lines if (line.name, line.key_id) == (witness.name, witness.key_id)]
    if not mine:
        raise ReceiptError("cosignature", f"expected a cosignature by {witness.name}")
    if not all(cosignature_valid(witness, text, line.signature) for line in mine):
        raise ReceiptError("cosignature", f"the cosignature by {witness.name} is invalid")


def _decode_leaf(data: bytes) -> dict[str, str]:
    """The leaf's fields when `data` is exactly a leaf encoding: the domain prefix, then the
    RFC 8785 form of the seven string fields; ReceiptError("leaf") otherwise."""
    if not data.startswith(LEAF_DOMAIN):
        raise ReceiptError("leaf", "expected the leaf domain prefix")
    try:
        fields = json.loads(data[len(LEAF_DOMAIN) :].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReceiptError("leaf", f"expected JSON after the prefix: {exc}") from None
    if not isinstance(fields, dict) or set(fields) != _LEAF_FIELDS:
        raise ReceiptError("leaf", f"expected an object of the fields {sorted(_LEAF_FIELDS)}")
    if not all(isinstance(value, str) for value in fields.values()):
        raise ReceiptError("leaf", "expected string fields")
    rules = [
        (_STREAM, "stream"),
        (_DECIMAL, "seq"),
        (_DECIMAL, "hlc"),
        (_HEX_DIGEST, "content_digest"),
        (_TENANT_ID, "tenant_id"),
        (_IDENTIFIER, "event_id"),
        (_IDENTIFIER, "key_id"),
    ]
    for pattern, name in rules:
        if not pattern.fullmatch(fields[name]):
            raise ReceiptError("leaf", f"{name}: not in its form, got {fields[name]!r}")
    if not 1 <= int(fields["seq"]) < 2**63 or int(fields["hlc"]) >= 2**64:
        raise ReceiptError("leaf", "seq or hlc out of range")
    try:
        canonical = canonicalize(fields)
    except CanonicalizationError as exc:
        raise ReceiptError("leaf", str(exc)) from None
    if LEAF_DOMAIN + canonical != data:
        raise ReceiptError("leaf", "expected the canonical (RFC 8785) encoding of the leaf")
    return fields


def _check_leaf_records_event(leaf: dict[str, str], event: SignedEvent) -> None:
    expected = {
        "tenant_id": event.envelope.tenant_id,
        "event_id": event.envelope.event_id,
        "key_id": event.envelope.key_id,
        "content_digest": content_digest(event.envelope).hex(),
    }
    for name, value in expected.items():
        if leaf[name] != value:
            raise ReceiptError(
                "event", f"the leaf's {name} is {leaf[name]!r}, the event's {value!r}"
            )


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise ValueError(f"duplicate member {name!r}")
        members[name] = value
    return members
