"""RFC 9162 §2.1.3 / §2.1.4 Merkle inclusion and consistency proofs: which perfect subtrees each
proof element is made of, proofs built from stored perfect nodes, and the verifiers.

A proof element is either one perfect node or, where the RFC's recursion reaches the incomplete
right edge of the tree, the `fold_right` of the perfect nodes covering that edge (the "ephemeral"
node of transparency-dev/merkle). Storing only perfect nodes is then enough to serve any proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from ledger.errors import ProofError
from ledger.merkle_hashing import HASH_SIZE, NODE_PREFIX, NodeId, fold_right, range_nodes

_sha256 = hashlib.sha256


def inclusion_proof_nodes(index: int, size: int) -> list[list[NodeId]]:
    """RFC 9162 §2.1.3.1 PATH(index, D[size]): each proof element, bottom-up, as the perfect
    subtrees whose `fold_right` it is.

    Requires 0 <= index < size.
    """
    if not 0 <= index < size:
        raise ProofError(f"inclusion proof: expected 0 <= index < size, got {index} and {size}")
    return _path_elements(0, index, size)


def consistency_proof_nodes(old_size: int, new_size: int) -> list[list[NodeId]]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[new_size]): each proof element as the perfect
    subtrees whose `fold_right` it is. Empty when the sizes are equal.

    Requires 0 < old_size <= new_size (a proof from the empty tree proves nothing).
    """
    _check_consistency_sizes(old_size, new_size)
    if old_size == new_size:
        return []
    # The largest perfect subtree ending at old_size: the proof is the path from it to the root
    # of the new tree, preceded by the subtree itself unless it is the whole old tree (old_size
    # a power of two), whose root the verifier already has.
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    path = _path_elements(level, index, new_size)
    return path if index == 0 else [[(level, index)], *path]


def _path_elements(level: int, index: int, size: int) -> list[list[NodeId]]:
    """The proof elements from the perfect node (level, index) up to the root of a tree of `size`
    leaves, bottom-up. Requires the node to lie within [0, size)."""
    # The fork is where the path up from the node meets the path to leaf `size`: below it every
    # sibling is a perfect node; its right sibling covers the incomplete right edge (one element,
    # folded); above it, only left siblings remain, each a perfect node.
    inner = (index ^ (size >> level)).bit_length() - 1
    fork_level, fork_index = level + inner, index >> inner
    begin, end = fork_index << fork_level, (fork_index + 1) << fork_level
    elements = [[(level + step, (index >> step) ^ 1)] for step in range(inner)]
    if end < size:
        elements.append(range_nodes(end, size))
    elements.extend([node] for node in reversed(range_nodes(0, begin)))
    return elements


def inclusion_proof(index: int, size: int, node: Callable[[NodeId], bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1: the inclusion proof of leaf `index` in the tree of `size` leaves, from
    the stored perfect nodes `node` returns. Requires 0 <= index < size."""
    return [fold_right([node(n) for n in nodes]) for nodes in inclusion_proof_nodes(index, size)]


def consistency_proof(old_size: int, new_size: int, node: Callable[[NodeId], bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1: the consistency proof from the tree of `old_size` leaves to the tree of
    `new_size`, from the stored perfect nodes `node` returns. Requires 0 < old_size <= new_size."""
    elements = consistency_proof_nodes(old_size, new_size)
    return [fold_right([node(n) for n in nodes]) for nodes in elements]


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """RFC 9162 §2.1.3.2 steps 1-4 (step 5's size check included): the root that `proof` puts
    leaf `index` under in a tree of `size` leaves.

    Requires 0 <= index < size and 32-byte hashes; raises ProofError when the proof's length does
    not match the tree shape.
    """
    if not 0 <= index < size:
        raise ProofError(f"inclusion proof: expected 0 <= index < size, got {index} and {size}")
    _check_hash("leaf hash", leaf_hash)
    _check_proof_hashes(proof)
    sha256 = _sha256
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError(
                f"inclusion proof: too long for index {index} in size {size}: {len(proof)} hashes"
            )
        if fn & 1 or fn == sn:
            r = sha256(NODE_PREFIX + p + r).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"inclusion proof: too short for index {index} in size {size}: {len(proof)} hashes"
        )
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: checks that `proof` proves leaf `leaf_hash` at `index` in the tree of
    `size` leaves whose root is `root`.

    Requires 0 <= index < size and 32-byte hashes; raises ProofError naming what failed.
    """
    _check_hash("root", root)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof: leaf {index} of {size} gives root {computed.hex()}, "
            f"expected {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: checks that `proof` proves the tree of `old_size` leaves with root
    `old_root` is a prefix of the tree of `new_size` leaves with root `new_root`.

    Requires 0 < old_size <= new_size and 32-byte hashes; equal sizes need an empty proof and
    equal roots. Raises ProofError naming what failed.
    """
    _check_consistency_sizes(old_size, new_size)
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    _check_proof_hashes(proof)
    if old_size == new_size:
        if proof:
            raise ProofError(f"consistency proof: expected none for equal sizes, got {len(proof)}")
        if old_root != new_root:
            raise ProofError(f"consistency proof: different roots at the same size {old_size}")
        return
    # Step 1: an empty proof proves nothing between different sizes.
    if not proof:
        raise ProofError(f"consistency proof: empty between sizes {old_size} and {new_size}")
    # Step 2: a power-of-two old tree is itself the first node of the path.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    # Steps 3-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Steps 5-6.
    sha256 = _sha256
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(
                f"consistency proof: too long from {old_size} to {new_size}: {len(proof)} hashes"
            )
        if fn & 1 or fn == sn:
            fr = sha256(NODE_PREFIX + c + fr).digest()
            sr = sha256(NODE_PREFIX + c + sr).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha256(NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofError(
            f"consistency proof: too short from {old_size} to {new_size}: {len(proof)} hashes"
        )
    if fr != old_root:
        raise ProofError(
            f"consistency proof: gives old root {fr.hex()} at size {old_size}, "
            f"expected {old_root.hex()}"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency proof: gives new root {sr.hex()} at size {new_size}, "
            f"expected {new_root.hex()}"
        )


def _check_consistency_sizes(old_size: int, new_size: int) -> None:
    if not 0 < old_size <= new_size:
        raise ProofError(
            f"consistency proof: expected 0 < old size <= new size, got {old_size} and {new_size}"
        )


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what}: expected {HASH_SIZE} bytes, got {len(value)}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        _check_hash(f"proof hash {position}", value)
