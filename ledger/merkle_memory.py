"""A Merkle tree held in memory with every perfect node: the reference the tests and benchmarks
compare the log against, and what the SDK vectors generator builds receipts from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from ledger.errors import ProofError
from ledger.merkle_compact import CompactRange
from ledger.merkle_hashing import EMPTY_ROOT, NodeId, fold_right, range_nodes
from ledger.merkle_proofs import consistency_proof, inclusion_proof


class MemoryTree:
    """Every perfect node of a tree that only grows, level by level; roots and proofs for any
    size it has reached (RFC 9162 §2.1)."""

    def __init__(self) -> None:
        """An empty tree."""
        self._edge = CompactRange.empty()
        self._levels: list[list[bytes]] = []

    @classmethod
    def of(cls, leaf_hashes: Iterable[bytes]) -> Self:
        """A tree of `leaf_hashes` (already leaf-hashed, 32 bytes each), in order."""
        tree = cls()
        for leaf in leaf_hashes:
            tree.append(leaf)
        return tree

    @property
    def size(self) -> int:
        """The number of leaves appended."""
        return self._edge.size

    def append(self, leaf_hash: bytes) -> int:
        """Adds a leaf (already leaf-hashed, 32 bytes); returns its index."""
        index = self._edge.size
        for (level, _), node in self._edge.append(leaf_hash):
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(node)
        return index

    def node(self, node_id: NodeId) -> bytes:
        """RFC 9162 §2.1.1: MTH of the perfect subtree `(level, index)`. Requires that it is
        complete at the current size."""
        level, index = node_id
        if not (0 <= level < len(self._levels) and 0 <= index < len(self._levels[level])):
            raise ProofError(f"memory tree: node {node_id} is not complete at size {self.size}")
        return self._levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 §2.1.1: the root at `size` leaves (default: now). Requires 0 <= size <= now."""
        size = self._checked(size)
        return fold_right([self.node(n) for n in range_nodes(0, size)]) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1: leaf `index` in the tree at `size` (default: now). Requires
        0 <= index < size <= now."""
        return inclusion_proof(index, self._checked(size), self.node)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1: from size `old` to size `new` (default: now). Requires
        0 < old <= new <= now."""
        return consistency_proof(old, self._checked(new), self.node)

    def _checked(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ProofError(f"memory tree: expected a size in [0, {self.size}], got {size}")
        return size
