"""RFC 9162 section 2.1 Merkle tree hashing and inclusion proof verification (what a receipt
needs of the log's tree)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 section 2.1.1: SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_problem(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> str | None:
    """None when `proof` leads from leaf hash `leaf` at `index` to `root` in a tree of `size`
    leaves (RFC 9162 section 2.1.3.2), else what fails."""
    if not 0 <= index < size:
        return f"expected a leaf index below the tree size {size}, got {index}"
    if any(len(node) != HASH_SIZE for node in proof):
        return "expected 32-byte proof hashes"
    fn, sn, r = index, size - 1, leaf
    for node in proof:
        if sn == 0:
            return f"expected at most {len(proof) - 1} proof hashes for this index and size"
        if fn & 1 or fn == sn:
            r = _node_hash(node, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node_hash(r, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return "expected more proof hashes for this index and size"
    if r != root:
        return f"the proof leads to root {r.hex()}, the checkpoint's is {root.hex()}"
    return None
