"""The audit log's leaf: one per record of a region's own WAL streams, in a fixed byte form.

A leaf encodes `LEAF_DOMAIN` followed by the RFC 8785 (JCS) form of
`{"content_digest","event_id","hlc","key_id","seq","stream","tenant_id"}` (keys in JCS order),
with `seq` and `hlc` as decimal strings: an hlc is about 2**57, past the 2**53 that JCS numbers
hold exactly, and one rule for both keeps the form simple. The domain prefix keeps a leaf from
ever being mistaken for any other signed or hashed JSON of this system (a record, a manifest).
The leaf's hash in the log is RFC 9162 §2.1.1 `merkle.leaf_hash(encode())`. docs/audit.md shows a
worked example.

Decoding is strict: exactly the bytes `encode` produces, so one leaf has one encoding and a leaf
hash names one leaf.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ledger import merkle
from ledger.canonical import canonical_bytes
from ledger.envelope import check_tenant_id, check_token
from ledger.hlc import MAX_HLC
from ledger.record import WalRecord
from ledger.signing import content_digest
from ledger.stream_id import StreamId

LEAF_DOMAIN = b"geoledger.audit.leaf.v1\x00"
LEAF_FIELDS = frozenset(
    {"stream", "seq", "hlc", "tenant_id", "event_id", "content_digest", "key_id"}
)
MAX_SEQ = 2**63 - 1  # a Postgres bigint, where the log stores it

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class AuditLeaf:
    """What the log says about one WAL record.

    stream: `<region>/<node>`; seq: the record's seq in it, 1..2**63-1; hlc: its HLC timestamp,
    0..2**64-1; tenant_id, event_id, key_id: the signed event's; content_digest: lowercase hex
    SHA-256 of the event's canonical envelope without signature (`signing.content_digest`).
    Raises ValueError naming the field that is out of its rule.
    """

    stream: str
    seq: int
    hlc: int
    tenant_id: str
    event_id: str
    content_digest: str
    key_id: str

    def __post_init__(self) -> None:
        for name in LEAF_FIELDS - {"seq", "hlc"}:
            if type(getattr(self, name)) is not str:
                raise ValueError(f"{name}: expected a string, got {getattr(self, name)!r}")
        try:
            StreamId.parse(self.stream)
        except ValueError as exc:
            raise ValueError(f"stream: {exc}") from None
        _require_int("seq", self.seq, 1, MAX_SEQ)
        _require_int("hlc", self.hlc, 0, MAX_HLC)
        for name, check in (
            ("tenant_id", check_tenant_id),
            ("event_id", check_token),
            ("key_id", check_token),
        ):
            try:
                check(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if not _SHA256_HEX.fullmatch(self.content_digest):
            raise ValueError(
                f"content_digest: expected 64 lowercase hex digits, got {self.content_digest!r}"
            )

    def encode(self) -> bytes:
        """LEAF_DOMAIN + RFC 8785 (JCS, §3.2) form of the leaf's fields, seq and hlc in decimal."""
        return LEAF_DOMAIN + canonical_bytes(
            {
                "stream": self.stream,
                "seq": str(self.seq),
                "hlc": str(self.hlc),
                "tenant_id": self.tenant_id,
                "event_id": self.event_id,
                "content_digest": self.content_digest,
                "key_id": self.key_id,
            }
        )

    def leaf_hash(self) -> bytes:
        """The leaf's hash in the log: RFC 9162 §2.1.1 SHA-256(0x00 || encode())."""
        return merkle.leaf_hash(self.encode())


def _require_int(name: str, value: object, low: int, high: int) -> None:
    # bool is an int subclass; True must not pass for 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name}: expected an integer in {low}..{high}, got {value!r}")


def decode_leaf(data: bytes) -> AuditLeaf:
    """The leaf whose `encode()` is exactly `data`.

    Raises ValueError, naming what differs, for a missing domain prefix, bytes that are not a
    JSON object of exactly the leaf's fields as strings, a field out of its rule, or any spelling
    other than the canonical one (whitespace, key order, escapes, duplicate keys, leading zeros).
    """
    if not data.startswith(LEAF_DOMAIN):
        raise ValueError(f"expected the prefix {LEAF_DOMAIN!r}, got {data[: len(LEAF_DOMAIN)]!r}")
    try:
        fields = json.loads(data[len(LEAF_DOMAIN) :].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"expected UTF-8 JSON after the prefix: {exc}") from None
    if not isinstance(fields, dict) or set(fields) != LEAF_FIELDS:
        got = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
        raise ValueError(f"expected an object with fields {sorted(LEAF_FIELDS)}, got {got}")
    for name in ("seq", "hlc"):
        text = fields[name]
        if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
            raise ValueError(f"{name}: expected a decimal string, got {text!r}")
        fields[name] = int(text)
    leaf = AuditLeaf(**fields)
    # The checks above accept other spellings of the same leaf; only the canonical one is a leaf.
    if leaf.encode() != data:
        raise ValueError("expected the canonical encoding of the leaf, got other bytes")
    return leaf


def leaf_from_record(stream: str, seq: int, record: WalRecord) -> AuditLeaf:
    """The leaf of the record at `seq` of `stream`."""
    event = record.event
    return AuditLeaf(
        stream=stream,
        seq=seq,
        hlc=record.hlc,
        tenant_id=event.tenant_id,
        event_id=event.event_id,
        content_digest=content_digest(event).hex(),
        key_id=event.key_id,
    )
