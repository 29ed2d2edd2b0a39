"""The leaves object: one sealed segment's leaves as written to write-once storage (format in
docs/audit.md): a header line (RFC 8785 JSON) naming the segment and its manifest, then one
standard-base64 leaf encoding per line. It holds nothing that varies between two writes of one
segment, so writing it again writes the same bytes."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from ledger.audit_leaf import AuditLeaf
from ledger.canonical import canonical_bytes
from ledger.stream_id import StreamId

LEAVES_FORMAT = "geoledger.audit.leaves.v1"


def leaves_key(stream: str, first_seq: int, last_seq: int) -> str:
    """`audit/<region>/<node>/<first_seq:020d>-<last_seq:020d>.leaves`: zero-padded seqs make a
    listing's order the stream's order."""
    return f"audit/{StreamId.parse(stream)}/{first_seq:020d}-{last_seq:020d}.leaves"


def encode_leaves_object(
    stream: str, first_seq: int, last_seq: int, manifest_sha256: str, leaves: Sequence[AuditLeaf]
) -> bytes:
    """The object's bytes: the header line, then each leaf's encoding in base64, one per line."""
    header = {
        "format": LEAVES_FORMAT,
        "stream": stream,
        "first_seq": str(first_seq),
        "last_seq": str(last_seq),
        "records": str(len(leaves)),
        "manifest_sha256": manifest_sha256,
    }
    lines = [canonical_bytes(header), *(base64.b64encode(leaf.encode()) for leaf in leaves)]
    return b"".join(line + b"\n" for line in lines)
