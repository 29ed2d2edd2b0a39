"""No corrupted proof verifies, and arguments outside a verifier's preconditions are refused with
a message naming what is wrong (transparency-dev/merkle's corruption tests, on every proof of the
published 8-leaf tree rather than a handful)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ledger.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    consistency_proof_nodes,
    inclusion_proof_nodes,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.unit.merkle_vectors import LEAF_INPUTS

LEAF_HASHES = [leaf_hash(data) for data in LEAF_INPUTS]
TREE = MemoryTree.of(LEAF_HASHES)
SIZE = TREE.size

Check = Callable[[], object]


def _flips(proof: list[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """Every proof that differs from `proof` in one bit."""
    for position, element in enumerate(proof):
        for bit in range(len(element) * 8):
            flipped = bytearray(element)
            flipped[bit // 8] ^= 1 << (bit % 8)
            yield (
                f"bit {bit} of element {position}",
                [*proof[:position], bytes(flipped), *proof[position + 1 :]],
            )


def _reshaped(proof: list[bytes], root: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """Proofs with an element missing or added."""
    if proof:
        yield "last element dropped", proof[:-1]
        yield "first element dropped", proof[1:]
        yield "last element repeated", [*proof, proof[-1]]
    yield "root appended", [*proof, root]
    yield "root prepended", [root, *proof]
    yield "empty-tree root appended", [*proof, EMPTY_ROOT]
    yield "empty-tree root prepended", [EMPTY_ROOT, *proof]


def _inclusion_shape(index: int, size: int) -> list[bool] | None:
    """Which proof elements are left siblings, bottom-up: all the RFC 9162 §2.1.3.2 verifier sees
    of a tree's size. None when `index` is not in a tree of `size`."""
    if not 0 <= index < size:
        return None
    return [nodes[0][1] << nodes[0][0] < index for nodes in inclusion_proof_nodes(index, size)]


def inclusion_corruptions() -> Iterator[tuple[str, Check, bool]]:
    """(what, check, verifies): every corruption of every inclusion proof of the 8-leaf tree."""
    for size in range(1, SIZE + 1):
        root = TREE.root(size)
        for index in range(size):
            leaf, proof = LEAF_HASHES[index], TREE.inclusion_proof(index, size)
            where = f"leaf {index} of {size}"

            def check(
                leaf: bytes = leaf,
                index: int = index,
                size: int = size,
                proof: list[bytes] = proof,
                root: bytes = root,
            ) -> Check:
                return lambda: verify_inclusion(leaf, index, size, proof, root)

            for what, bad in [*_flips(proof), *_reshaped(proof, root)]:
                yield f"{where}: {what}", check(proof=bad), False
            for other in (index - 1, index + 1, index ^ 2):
                yield f"{where}: index {other}", check(index=other), False
            for other in (size * 2, size // 2):
                yield f"{where}: size {other}", check(size=other), False
            # A size one off keeps the proof valid exactly when the proof's shape is unchanged:
            # the size is bound to the root by the signed checkpoint, not by the proof.
            for other in (size - 1, size + 1):
                same = _inclusion_shape(index, other) == _inclusion_shape(index, size)
                yield f"{where}: size {other}", check(size=other), same
            yield f"{where}: wrong leaf", check(leaf=leaf_hash(b"WrongLeaf")), False
            yield f"{where}: leaf data not leaf-hashed", check(leaf=LEAF_INPUTS[index]), False
            yield f"{where}: empty-tree root", check(root=EMPTY_ROOT), False
            if size > 1:
                yield f"{where}: root of {size - 1}", check(root=TREE.root(size - 1)), False


def _consistency_shape(old: int, new: int) -> tuple[bool, list[bool]] | None:
    """What the RFC 9162 §2.1.4.2 verifier sees of two sizes: whether the old tree is its own
    first path node, and which proof elements lie inside the old tree."""
    if not 0 < old < new:
        return None
    elements = consistency_proof_nodes(old, new)
    inside = [((nodes[-1][1] + 1) << nodes[-1][0]) <= old for nodes in elements]
    return old & (old - 1) == 0, inside


def consistency_corruptions() -> Iterator[tuple[str, Check, bool]]:
    """(what, check, verifies): every corruption of every consistency proof of the 8-leaf tree
    between different sizes."""
    for new in range(2, SIZE + 1):
        for old in range(1, new):
            old_root, new_root = TREE.root(old), TREE.root(new)
            proof = TREE.consistency_proof(old, new)
            where = f"{old} to {new}"

            def check(
                old: int = old,
                new: int = new,
                old_root: bytes = old_root,
                new_root: bytes = new_root,
                proof: list[bytes] = proof,
            ) -> Check:
                return lambda: verify_consistency(old, new, old_root, new_root, proof)

            for what, bad in [*_flips(proof), *_reshaped(proof, new_root)]:
                yield f"{where}: {what}", check(proof=bad), False
            yield f"{where}: empty proof", check(proof=[]), False
            for other in (old * 2, old // 2, old ^ 2):
                yield f"{where}: old size {other}", check(old=other), False
            for other in (new * 2, new // 2):
                yield f"{where}: new size {other}", check(new=other), False
            shape = _consistency_shape(old, new)
            for other in (old - 1, old + 1):
                same = _consistency_shape(other, new) == shape
                yield f"{where}: old size {other}", check(old=other), same
            for other in (new - 1, new + 1):
                same = _consistency_shape(old, other) == shape
                yield f"{where}: new size {other}", check(new=other), same
            yield f"{where}: swapped roots", check(old_root=new_root, new_root=old_root), False
            yield f"{where}: both roots new", check(old_root=new_root), False
            yield f"{where}: both roots old", check(new_root=old_root), False
            yield f"{where}: empty-tree old root", check(old_root=EMPTY_ROOT), False
            yield f"{where}: empty-tree new root", check(new_root=EMPTY_ROOT), False


def _outcome(check: Check) -> bool:
    try:
        check()
    except ProofError:
        return False
    return True


@pytest.mark.parametrize(
    "corruptions", [inclusion_corruptions, consistency_corruptions], ids=lambda c: c.__name__
)
def test_no_corrupted_proof_verifies(
    corruptions: Callable[[], Iterator[tuple[str, Check, bool]]],
) -> None:
    wrong = [what for what, check, verifies in corruptions() if _outcome(check) is not verifies]
    assert wrong == []


def test_some_one_off_sizes_keep_the_shape() -> None:
    """The exemption above is real, not a way to let every size change pass: leaf 0 of 7 has the
    same proof shape as leaf 0 of 8, leaf 4 of 5 not that of leaf 4 of 6."""
    assert _inclusion_shape(0, 7) == _inclusion_shape(0, 8)
    assert _inclusion_shape(4, 5) != _inclusion_shape(4, 6)
    exempt = [what for what, _, verifies in inclusion_corruptions() if verifies]
    assert 0 < len(exempt) < 40


ROOT8, ROOT4, LEAF0 = TREE.root(8), TREE.root(4), LEAF_HASHES[0]
PROOF_0_OF_8 = TREE.inclusion_proof(0, 8)

PRECONDITIONS: list[tuple[str, Check, str]] = [
    ("index = size", lambda: verify_inclusion(LEAF0, 8, 8, PROOF_0_OF_8, ROOT8), "index < size"),
    ("index > size", lambda: verify_inclusion(LEAF0, 9, 8, PROOF_0_OF_8, ROOT8), "index < size"),
    ("negative index", lambda: verify_inclusion(LEAF0, -1, 8, PROOF_0_OF_8, ROOT8), "0 <= index"),
    ("empty tree", lambda: verify_inclusion(LEAF0, 0, 0, [], EMPTY_ROOT), "index < size"),
    # certificate-transparency kSHA256Paths[0]: leaf 0 (1-based, so no leaf) of size 0.
    ("CT invalid path", lambda: verify_inclusion(LEAF0, -1, 0, [], EMPTY_ROOT), "index < size"),
    (
        "short leaf hash",
        lambda: verify_inclusion(b"\x00" * 31, 0, 8, PROOF_0_OF_8, ROOT8),
        "leaf hash: expected 32 bytes, got 31",
    ),
    (
        "long root",
        lambda: verify_inclusion(LEAF0, 0, 8, PROOF_0_OF_8, ROOT8 + b"\x00"),
        "root: expected 32 bytes, got 33",
    ),
    (
        "empty proof hash",
        lambda: verify_inclusion(LEAF0, 0, 8, [*PROOF_0_OF_8[:2], b""], ROOT8),
        "proof hash 2: expected 32 bytes, got 0",
    ),
    ("old > new", lambda: verify_consistency(5, 4, ROOT8, ROOT4, []), "old size <= new size"),
    ("old = 0", lambda: verify_consistency(0, 4, EMPTY_ROOT, ROOT4, []), "0 < old size"),
    ("negative old", lambda: verify_consistency(-1, 4, EMPTY_ROOT, ROOT4, []), "0 < old size"),
    (
        "short old root",
        lambda: verify_consistency(4, 8, ROOT4[:16], ROOT8, [b"\x00" * 32]),
        "old root: expected 32 bytes, got 16",
    ),
    (
        "short new root",
        lambda: verify_consistency(4, 8, ROOT4, b"", [b"\x00" * 32]),
        "new root: expected 32 bytes, got 0",
    ),
    (
        "bad proof hash",
        lambda: verify_consistency(4, 8, ROOT4, ROOT8, [b"\x01"]),
        "proof hash 0: expected 32 bytes, got 1",
    ),
    (
        "equal sizes, a proof",
        lambda: verify_consistency(4, 4, ROOT4, ROOT4, [ROOT4]),
        "expected none for equal sizes, got 1",
    ),
    (
        "equal sizes, other roots",
        lambda: verify_consistency(4, 4, ROOT4, ROOT8, []),
        "different roots at the same size 4",
    ),
    (
        "empty proof",
        lambda: verify_consistency(4, 8, ROOT4, ROOT8, []),
        "empty between sizes 4 and 8",
    ),
    ("index past the tree", lambda: TREE.inclusion_proof(8), "index < size"),
    ("size past the tree", lambda: TREE.consistency_proof(4, 9), "a size in [0, 8], got 9"),
    ("no consistency from 0", lambda: TREE.consistency_proof(0, 4), "0 < old size"),
]


@pytest.mark.parametrize(
    "check,message",
    [(c, m) for _, c, m in PRECONDITIONS],
    ids=[name for name, _, _ in PRECONDITIONS],
)
def test_preconditions_are_refused_by_name(check: Check, message: str) -> None:
    with pytest.raises(ProofError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check()


def test_a_verifier_names_the_root_it_computed() -> None:
    with pytest.raises(ProofError, match=f"gives root {ROOT8.hex()}, expected {ROOT4.hex()}"):
        verify_inclusion(LEAF0, 0, 8, PROOF_0_OF_8, ROOT4)
    with pytest.raises(ProofError, match="too short for index 0 in size 8: 2 hashes"):
        verify_inclusion(LEAF0, 0, 8, PROOF_0_OF_8[:2], ROOT8)
    with pytest.raises(ProofError, match="too long for index 0 in size 8: 4 hashes"):
        verify_inclusion(LEAF0, 0, 8, [*PROOF_0_OF_8, ROOT8], ROOT8)
