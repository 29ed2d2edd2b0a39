"""`ledger.merkle`'s proof shapes on trees far beyond what can be built (up to 2**63 leaves),
where the exhaustive checks of test_merkle_properties cannot reach.

Two properties together: the NodeIds of a proof tile the tree exactly as RFC 9162's PATH and
PROOF recursions do (which catches a wrong index), and on a tree of identical leaves, where every
perfect node of a level has the same hash and so any size can be hashed in O(log n), the
generated proofs verify with the RFC 9162 §2.1.3.2 / §2.1.4.2 verifiers (which catches a wrong
level or order).
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    NodeId,
    consistency_proof,
    consistency_proof_nodes,
    fold_right,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    range_nodes,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 1 << 63
# Deterministic: the same examples every run, as a unit test must be.
EXAMPLES = settings(max_examples=300, derandomize=True, database=None, deadline=None)

LEVEL_HASHES = [leaf_hash(b"the same leaf")]
for _ in range(MAX_SIZE.bit_length()):
    LEVEL_HASHES.append(node_hash(LEVEL_HASHES[-1], LEVEL_HASHES[-1]))


def same_leaf_node(node_id: NodeId) -> bytes:
    return LEVEL_HASHES[node_id[0]]


def same_leaf_root(size: int) -> bytes:
    return fold_right([same_leaf_node(node_id) for node_id in range_nodes(0, size)])


def span(nodes: list[NodeId]) -> tuple[int, int]:
    """The leaves [begin, end) a proof element covers; its nodes must be adjacent, in order."""
    begin = end = nodes[0][1] << nodes[0][0]
    for level, index in nodes:
        assert index << level == end, f"{nodes} are not adjacent"
        end = (index + 1) << level
    return begin, end


def assert_tiles(spans: list[tuple[int, int]], begin: int, end: int) -> None:
    covered = sorted(spans)
    assert covered[0][0] == begin and covered[-1][1] == end
    for (_, left_end), (right_begin, _) in pairwise(covered):
        assert left_end == right_begin, f"gap or overlap at {left_end} / {right_begin}"


sizes = st.integers(min_value=1, max_value=MAX_SIZE)


@EXAMPLES
@given(size=sizes, data=st.data())
def test_inclusion_proofs_tile_the_tree_around_the_leaf(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    elements = inclusion_proof_nodes(index, size)
    spans = [span(nodes) for nodes in elements]
    assert_tiles([*spans, (index, index + 1)], 0, size)
    # Bottom-up: each element is the sibling of the subtree the ones below it built.
    built = (index, index + 1)
    for begin, end in spans:
        assert end == built[0] or begin == built[1], f"{(begin, end)} is not next to {built}"
        built = (min(begin, built[0]), max(end, built[1]))
    proof = inclusion_proof(index, size, same_leaf_node)
    verify_inclusion(LEVEL_HASHES[0], index, size, proof, same_leaf_root(size))


@EXAMPLES
@given(new=sizes, data=st.data())
def test_consistency_proofs_tile_both_trees(new: int, data: st.DataObject) -> None:
    old = data.draw(st.integers(min_value=1, max_value=new))
    spans = [span(nodes) for nodes in consistency_proof_nodes(old, new)]
    if old < new:
        # A power-of-two old tree is the proof's implicit first node.
        known = [(0, old)] if old & (old - 1) == 0 else []
        assert_tiles(known + spans, 0, new)
        assert_tiles(known + [s for s in spans if s[1] <= old], 0, old)
    else:
        assert spans == []
    proof = consistency_proof(old, new, same_leaf_node)
    verify_consistency(old, new, same_leaf_root(old), same_leaf_root(new), proof)


@EXAMPLES
@given(end=st.integers(min_value=0, max_value=MAX_SIZE), data=st.data())
def test_range_nodes_tile_any_range(end: int, data: st.DataObject) -> None:
    begin = data.draw(st.integers(min_value=0, max_value=end))
    nodes = range_nodes(begin, end)
    if begin == end:
        assert nodes == []
        return
    assert span(nodes) == (begin, end)
    # The fewest: no two neighbours at one level could have been one node of the level above.
    for (level, index), (next_level, next_index) in pairwise(nodes):
        assert not (level == next_level and index % 2 == 0 and next_index == index + 1)
