"""The `tampered` variants of each signed case, with the reference's verdict on each.

TAMPERINGS is the table: each entry makes one variant of a case, listing only what it changes
(`envelope` fields to override, `payload_merge` members set on the payload, `payload_recipe`,
`signature` or `public_key`), or None when it does not apply to that case. Only reordering
payload members keeps a signature valid: member order is not signed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from golden.keys import golden_key
from golden.recipes import materialize_payload
from golden.types import Json
from golden.verdicts import reference_verify
from ledger.canonical import b64url_decode_exact, b64url_encode
from ledger.keys import public_key_to_b64

_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The envelope field a case's `changed_<field>` variant alters, by the case's position.
_CHANGED_FIELDS = ("tenant_id", "event_id", "key_id", "occurred_at", "type")


@dataclass(frozen=True)
class Target:
    """A signed case as the tamperings see it: its position, vectors entry and payload."""

    index: int
    entry: Json
    payload: Json

    @property
    def signature(self) -> str:
        signature: str = self.entry["signature"]
        return signature


def flipped_signature_bit(target: Target) -> Json:
    flipped = bytearray(b64url_decode_exact(target.signature, 64))
    flipped[target.index % 64] ^= 1 << (target.index % 8)
    return {"name": "flipped_signature_bit", "signature": b64url_encode(bytes(flipped))}


def changed_payload(target: Target) -> Json:
    if "payload_recipe" in target.entry:
        recipe = dict(target.entry["payload_recipe"])
        recipe["count"] -= 1
        return {"name": "changed_payload", "payload_recipe": recipe}
    # A shallow merge into the payload keeps the variant small however large the payload is.
    flag = not target.payload.get("tampered", False)
    return {"name": "changed_payload", "payload_merge": {"tampered": flag}}


def changed_field(target: Target) -> Json:
    field = _CHANGED_FIELDS[target.index % len(_CHANGED_FIELDS)]
    altered = _altered(field, target.entry["envelope"][field])
    return {"name": f"changed_{field}", "envelope": {field: altered}}


def wrong_key(target: Target) -> Json:
    other = golden_key("key-2" if target.entry["key"] != "key-2" else "key-3")
    return {"name": "wrong_key", "public_key": public_key_to_b64(other.public_key())}


def padded_signature(target: Target) -> Json:
    return {"name": "padded_signature", "signature": target.signature + "=="}


def truncated_signature(target: Target) -> Json:
    return {"name": "truncated_signature", "signature": target.signature[:-1]}


def extended_signature(target: Target) -> Json:
    return {"name": "extended_signature", "signature": target.signature + "A"}


def non_canonical_pad_bits(target: Target) -> Json:
    """The last character swapped for the one decoding to the same 2 data bits with non-zero pad
    bits (86 characters carry 516 bits for 512: the last character's low 4 bits are padding)."""
    last = target.signature[-1]
    padded = _BASE64URL[_BASE64URL.index(last) | 0b0001]
    return {"name": "non_canonical_pad_bits", "signature": target.signature[:-1] + padded}


def reordered_payload_members(target: Target) -> Json | None:
    """Member order is not signed: an implementation that signs the order it was given fails.
    Only for small stored payloads with two members or more."""
    payload = target.payload
    if "payload_recipe" in target.entry or len(payload) < 2:
        return None
    if target.entry["canonical_size"] >= 1000:
        return None
    reordered = dict(reversed(list(payload.items())))
    return {"name": "reordered_payload_members", "envelope": {"payload": reordered}}


def standard_base64_alphabet(target: Target) -> Json | None:
    """Only for signatures that hold a `-` or `_`."""
    standard = target.signature.replace("-", "+").replace("_", "/")
    if standard == target.signature:
        return None
    return {"name": "standard_base64_alphabet", "signature": standard}


TAMPERINGS: tuple[Callable[[Target], Json | None], ...] = (
    flipped_signature_bit,
    changed_payload,
    changed_field,
    wrong_key,
    padded_signature,
    truncated_signature,
    extended_signature,
    non_canonical_pad_bits,
    reordered_payload_members,
    standard_base64_alphabet,
)


def tampered_variants(index: int, entry: Json, payload: Json) -> list[Json]:
    """The variants of the signed case at `index`, described by `entry` (its vectors entry so
    far) with `payload`, each with the reference's verdict in `valid`."""
    target = Target(index, entry, payload)
    variants = [variant for tamper in TAMPERINGS if (variant := tamper(target)) is not None]
    for variant in variants:
        variant["valid"] = _verdict(target, variant)
    return variants


def _verdict(target: Target, variant: Json) -> bool:
    fields = {**target.entry["envelope"], "payload": target.payload, **variant.get("envelope", {})}
    if "payload_recipe" in variant:
        fields["payload"] = materialize_payload(variant["payload_recipe"])
    if "payload_merge" in variant:
        fields["payload"] = {**target.payload, **variant["payload_merge"]}
    public = str(variant.get("public_key", target.entry["public_key"]))
    signature = str(variant.get("signature", target.signature))
    return reference_verify(public, fields, signature)


def _altered(field: str, value: str) -> str:
    if field == "occurred_at":
        return "2000-01-01T00:00:00Z" if value != "2000-01-01T00:00:00Z" else "2000-01-01T00:00:01Z"
    if field == "key_id":
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    limit = 64 if field == "tenant_id" else 128
    if len(value) < limit:
        return value + "x"
    return value[:-1] + ("x" if value[-1] != "x" else "y")
