"""`ledger.merkle` on every tree of 1..128 leaves: every inclusion and consistency proof verifies,
whether its nodes come from a MemoryTree or from the nodes CompactRange.append reported (which
must be exactly the tree's perfect nodes), and the compact range agrees with RFC 9162's MTH."""

from __future__ import annotations

import pytest

from ledger.merkle import (
    CompactRange,
    MemoryTree,
    NodeId,
    ProofError,
    consistency_proof,
    fold_right,
    inclusion_proof,
    leaf_hash,
    range_nodes,
    root_of,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 128
LEAVES = [leaf_hash(index.to_bytes(4, "big")) for index in range(MAX_SIZE)]


def _perfect_nodes(size: int) -> set[NodeId]:
    """Every perfect subtree of a tree of `size` leaves, by definition."""
    return {(level, index) for level in range(size.bit_length()) for index in range(size >> level)}


@pytest.fixture(scope="module")
def reported() -> tuple[dict[NodeId, bytes], list[CompactRange]]:
    """The nodes CompactRange.append reports over 128 leaves, one leaf at a time, and the compact
    range after each leaf (index = size)."""
    compact, nodes, ranges = CompactRange.empty(), {}, [CompactRange.empty()]
    for leaf in LEAVES:
        for node_id, value in compact.append(leaf):
            assert node_id not in nodes, f"{node_id} reported twice"
            nodes[node_id] = value
        ranges.append(CompactRange.from_bytes(compact.to_bytes()))
    return nodes, ranges


@pytest.fixture(scope="module")
def tree() -> MemoryTree:
    return MemoryTree.of(LEAVES)


def test_reported_nodes_are_exactly_the_perfect_nodes(
    reported: tuple[dict[NodeId, bytes], list[CompactRange]], tree: MemoryTree
) -> None:
    nodes, _ = reported
    assert set(nodes) == _perfect_nodes(MAX_SIZE)
    for (level, index), value in nodes.items():
        assert value == root_of(LEAVES[index << level : (index + 1) << level])
        assert tree.node((level, index)) == value


def test_each_append_reports_the_nodes_it_completes_bottom_up() -> None:
    compact = CompactRange.empty()
    for size in range(MAX_SIZE):
        new = _perfect_nodes(size + 1) - _perfect_nodes(size)
        reported = [node_id for node_id, _ in compact.append(LEAVES[size])]
        assert reported == sorted(new), f"appending leaf {size}"


@pytest.mark.parametrize("batch", [1, 3, 8, 50, MAX_SIZE])
def test_extend_in_batches_reports_what_appends_do(batch: int) -> None:
    one_by_one, batched = CompactRange.empty(), CompactRange.empty()
    singles = [node for leaf in LEAVES for node in one_by_one.append(leaf)]
    batches = []
    for start in range(0, MAX_SIZE, batch):
        reported = batched.extend(LEAVES[start : start + batch])
        # Level by level, left to right: the order the storage layer writes them in.
        assert reported == sorted(reported), f"batch at {start}"
        batches.extend(reported)
    assert sorted(batches) == sorted(singles)
    assert batched == one_by_one


def test_compact_ranges_round_trip_and_give_the_rfc_root(
    reported: tuple[dict[NodeId, bytes], list[CompactRange]],
) -> None:
    _, ranges = reported
    for size, compact in enumerate(ranges):
        assert compact.size == size
        assert len(compact.hashes) == size.bit_count()
        assert CompactRange.from_bytes(compact.to_bytes()) == compact
        assert compact.root() == root_of(LEAVES[:size])


def test_every_inclusion_proof_verifies(
    reported: tuple[dict[NodeId, bytes], list[CompactRange]], tree: MemoryTree
) -> None:
    nodes, _ = reported
    for size in range(1, MAX_SIZE + 1):
        root = root_of(LEAVES[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert inclusion_proof(index, size, nodes.__getitem__) == proof
            verify_inclusion(LEAVES[index], index, size, proof, root)


def test_every_consistency_proof_verifies(
    reported: tuple[dict[NodeId, bytes], list[CompactRange]], tree: MemoryTree
) -> None:
    nodes, _ = reported
    roots = [root_of(LEAVES[:size]) for size in range(MAX_SIZE + 1)]
    for new in range(1, MAX_SIZE + 1):
        for old in range(1, new + 1):
            proof = tree.consistency_proof(old, new)
            assert consistency_proof(old, new, nodes.__getitem__) == proof
            verify_consistency(old, new, roots[old], roots[new], proof)


def test_range_nodes_cover_exactly_the_range() -> None:
    for end in range(MAX_SIZE + 1):
        for begin in range(end + 1):
            covered: list[int] = []
            for level, index in range_nodes(begin, end):
                covered.extend(range(index << level, (index + 1) << level))
            assert covered == list(range(begin, end)), f"[{begin}, {end})"


def test_range_nodes_of_a_prefix_fold_into_its_root(tree: MemoryTree) -> None:
    for size in range(1, MAX_SIZE + 1):
        hashes = [tree.node(node_id) for node_id in range_nodes(0, size)]
        assert fold_right(hashes) == root_of(LEAVES[:size])


def test_range_nodes_refuses_a_backwards_range() -> None:
    with pytest.raises(ProofError, match=r"0 <= begin <= end, got \[5, 4\)"):
        range_nodes(5, 4)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "header"),
        (b"\x02" + bytes(8), "expected version 1"),
        (
            b"\x01" + (3).to_bytes(8, "big") + bytes(32),
            "expected 2 hashes for size 3, got 32 bytes",
        ),
        (
            b"\x01" + (1).to_bytes(8, "big") + bytes(33),
            "expected 1 hashes for size 1, got 33 bytes",
        ),
    ],
)
def test_compact_range_from_bytes_refuses_anything_else(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CompactRange.from_bytes(data)


def test_a_batch_with_a_bad_leaf_changes_nothing() -> None:
    compact = CompactRange.empty()
    compact.extend(LEAVES[:3])
    with pytest.raises(ValueError, match="expected 32-byte leaf hashes, got 3"):
        compact.extend([LEAVES[3], LEAVES[4], b"abc", LEAVES[5]])
    assert compact.size == 3
    assert compact.root() == root_of(LEAVES[:3])
