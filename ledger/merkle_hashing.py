"""RFC 9162 §2.1 Merkle tree hashing: leaf and node hashes, the tree head of a list of leaves, and
the split of a leaf range into perfect subtrees that everything else in `ledger.merkle` builds on.

A perfect subtree is named by a `NodeId` `(level, index)`: the subtree over leaves
`[index << level, (index + 1) << level)`. Level 0 holds the leaf hashes themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ledger.errors import ProofError

HASH_SIZE = 32
"""SHA-256 output, the size of every leaf, node and root hash."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""The root of the empty tree (RFC 9162 §2.1.1: MTH({}) = SHA-256())."""

NodeId = tuple[int, int]
"""(level, index): the perfect subtree over leaves [index << level, (index + 1) << level)."""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of a leaf, SHA-256(0x00 || data)."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of an interior node, SHA-256(0x01 || left || right)."""
    return _sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """RFC 9162 §2.1.1: k, the largest power of two smaller than `size`. Requires size >= 2."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1: MTH over `leaf_hashes` (already leaf-hashed), EMPTY_ROOT for none.

    The recursive definition as the RFC writes it (split at the largest power of two below n), so
    it stays an independent check on `CompactRange`, which computes the same root incrementally.
    """

    def mth(begin: int, end: int) -> bytes:
        if end - begin == 1:
            return leaf_hashes[begin]
        middle = begin + split_point(end - begin)
        return node_hash(mth(begin, middle), mth(middle, end))

    return mth(0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """RFC 9162 §2.1.1 (the perfect subtrees MTH splits a range into): the leaves [begin, end)
    as the fewest perfect subtrees, left to right.

    Requires 0 <= begin <= end. Each subtree is aligned as in the tree (a node at level l starts
    at a multiple of 2**l), so sizes first grow (the part right of leaf begin - 1's path) and then
    shrink (the part left of leaf end's path); [0, n) gives the right edge of a tree of n leaves,
    whose subtree roots fold into the tree's root (`fold_right`).
    """
    if not 0 <= begin <= end:
        raise ProofError(f"range nodes: expected 0 <= begin <= end, got [{begin}, {end})")
    left, right = _decompose(begin, end)
    nodes: list[NodeId] = []
    position = begin
    for level in range(left.bit_length()):
        if left >> level & 1:
            nodes.append((level, position >> level))
            position += 1 << level
    for level in reversed(range(right.bit_length())):
        if right >> level & 1:
            nodes.append((level, position >> level))
            position += 1 << level
    return nodes


def _decompose(begin: int, end: int) -> tuple[int, int]:
    """The sizes of the growing (left) and shrinking (right) parts of [begin, end), as bit sets:
    bit l set means one subtree of 2**l leaves in that part."""
    if begin == 0:
        return 0, end
    # Below the level where the paths to leaves begin - 1 and end part, the left part is the
    # subtrees right of begin - 1's path (its zero bits) and the right part the subtrees left of
    # end's path (its one bits).
    last_before = begin - 1
    mask = (1 << ((last_before ^ end).bit_length() - 1)) - 1
    return ~last_before & mask, end & mask


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1: the hash of a right-edge range from the hashes of its `range_nodes`, left
    to right: node_hash(h0, node_hash(h1, ... node_hash(h(k-2), h(k-1)))).

    Requires at least one hash. This is how MTH joins the perfect subtrees of an incomplete tree
    (the split puts the largest perfect subtree on the left, then recurses on the rest).
    """
    if not hashes:
        raise ProofError("fold right: expected at least one hash, got none")
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = _sha256(NODE_PREFIX + left + folded).digest()
    return folded
