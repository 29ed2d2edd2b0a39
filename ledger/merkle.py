"""The region's audit log as a Merkle tree (RFC 6962, RFC 9162 §2.1): hashing, compact ranges,
inclusion and consistency proofs. Pure: SHA-256 from the standard library, no I/O.

The names other code uses live here; each concept sits in a module of its own:
`merkle_hashing` (leaf and node hashes, MTH, perfect subtrees of a range), `merkle_proofs`
(proof shapes, generation from stored perfect nodes, verification), `merkle_compact` (the log's
right edge, appended to in O(batch + log n)) and `merkle_memory` (a whole tree in memory, for
tests, benchmarks and the SDK vectors).
"""

from __future__ import annotations

from ledger.errors import ProofError
from ledger.merkle_compact import CompactRange
from ledger.merkle_hashing import (
    EMPTY_ROOT,
    HASH_SIZE,
    NodeId,
    fold_right,
    leaf_hash,
    node_hash,
    range_nodes,
    root_of,
)
from ledger.merkle_memory import MemoryTree
from ledger.merkle_proofs import (
    consistency_proof,
    consistency_proof_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MemoryTree",
    "NodeId",
    "ProofError",
    "consistency_proof",
    "consistency_proof_nodes",
    "fold_right",
    "inclusion_proof",
    "inclusion_proof_nodes",
    "leaf_hash",
    "node_hash",
    "range_nodes",
    "root_from_inclusion_proof",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]
