"""The compact range of a Merkle log: the roots of the perfect subtrees along the right edge of a
tree of `size` leaves (transparency-dev/merkle `compact.Range` over [0, size)). It is all the log
must keep to append leaves and compute the root; appending reports each perfect node a leaf
completes, so the storage layer keeps every perfect node and can serve any proof from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from itertools import count, repeat
from typing import Self

from ledger.merkle_hashing import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX, NodeId, fold_right

_FORMAT_VERSION = 1
_HEADER_SIZE = 9  # version byte, 8-byte big-endian size


class CompactRange:
    """The right edge of a tree of `size` leaves: its perfect subtree roots, largest (leftmost)
    first, so `len(hashes) == popcount(size)` (RFC 9162 §2.1.1: MTH is their `fold_right`)."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int, hashes: list[bytes]) -> None:
        """Requires size >= 0 and one 32-byte hash per set bit of `size`."""
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(
                f"compact range: expected {max(size, 0).bit_count()} hashes for size {size}, "
                f"got {len(hashes)}"
            )
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(f"compact range: expected {HASH_SIZE}-byte hashes")
        self.size = size
        self.hashes = hashes

    @classmethod
    def empty(cls) -> Self:
        """The compact range of the empty tree."""
        return cls(0, [])

    def append(self, leaf_hash: bytes) -> list[tuple[NodeId, bytes]]:
        """RFC 9162 §2.1.1: adds one leaf; returns the perfect nodes it completes, the leaf itself
        (level 0) first, then each parent it completes, bottom-up. Requires a 32-byte hash."""
        return self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[tuple[NodeId, bytes]]:
        """RFC 9162 §2.1.1: adds the leaves in order; returns every perfect node they complete,
        level by level bottom-up, left to right within a level (for one leaf: the leaf, then each
        parent it completes). One hash per completed node, O(log size) memory kept.

        Requires 32-byte leaf hashes; a batch with any other changes nothing.
        """
        row = list(leaf_hashes)
        if row and set(map(len, row)) != {HASH_SIZE}:
            bad = next(len(leaf) for leaf in row if len(leaf) != HASH_SIZE)
            raise ValueError(f"compact range: expected {HASH_SIZE}-byte leaf hashes, got {bad}")
        old_size, new_size = self.size, self.size + len(row)
        # The old right edge by level: bit l of the old size set means a level-l root waiting for
        # a right sibling.
        waiting = dict(zip(_levels_of(old_size), self.hashes, strict=True))
        # The log's hot path: each level is hashed in one comprehension over the level below, as
        # a plain tree build would, and reported with NodeIds built by zip, not per node in Python.
        sha256, prefix = hashlib.sha256, NODE_PREFIX
        completed = list(zip(zip(repeat(0), count(old_size)), row, strict=False))
        edge: dict[int, bytes] = {}
        level, first = 0, old_size
        while row:
            if first & 1:  # the row starts with a right child: its sibling was waiting
                row.insert(0, waiting[level])
                first -= 1
            if len(row) & 1:  # the last node has no sibling yet: it is on the new right edge
                edge[level] = row[-1]
            row = [
                sha256(prefix + left + right).digest()
                for left, right in zip(*[iter(row)] * 2, strict=False)
            ]
            level, first = level + 1, first >> 1
            completed.extend(zip(zip(repeat(level), count(first)), row, strict=False))
        # Levels the batch did not reach keep their old root.
        self.hashes = [edge.get(kept) or waiting[kept] for kept in _levels_of(new_size)]
        self.size = new_size
        return completed

    def root(self) -> bytes:
        """RFC 9162 §2.1.1: the tree's root, MTH of its leaves; EMPTY_ROOT for the empty tree."""
        return fold_right(self.hashes) if self.hashes else EMPTY_ROOT

    def to_bytes(self) -> bytes:
        """The durable form (ours, no RFC defines one): a version byte (1), the size as 8 bytes
        big-endian, then the hashes, largest subtree first."""
        return bytes([_FORMAT_VERSION]) + self.size.to_bytes(8, "big") + b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Reads what `to_bytes` wrote; raises ValueError on any other bytes."""
        if len(data) < _HEADER_SIZE or data[0] != _FORMAT_VERSION:
            raise ValueError(
                f"compact range: expected version {_FORMAT_VERSION} and a {_HEADER_SIZE}-byte "
                f"header, got {len(data)} bytes starting {data[:1].hex() or 'empty'}"
            )
        size = int.from_bytes(data[1:_HEADER_SIZE], "big")
        body = data[_HEADER_SIZE:]
        if len(body) != size.bit_count() * HASH_SIZE:
            raise ValueError(
                f"compact range: expected {size.bit_count()} hashes for size {size}, "
                f"got {len(body)} bytes"
            )
        return cls(size, [body[at : at + HASH_SIZE] for at in range(0, len(body), HASH_SIZE)])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CompactRange)
            and self.size == other.size
            and self.hashes == other.hashes
        )

    def __repr__(self) -> str:
        return f"CompactRange(size={self.size}, hashes={len(self.hashes)})"


def _levels_of(size: int) -> list[int]:
    """The levels of the perfect subtrees on the right edge of a tree of `size` leaves, largest
    first (the set bits of `size`, high to low)."""
    return [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]
