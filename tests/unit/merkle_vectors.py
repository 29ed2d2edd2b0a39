"""Published RFC 6962 test vectors for `ledger.merkle`, copied as they are published.

Every table names its source. Both sources use the same reference tree: the eight leaf inputs
below, hashed with RFC 6962 SHA-256. Watch the indexing: the proof tables of both sources number
leaves from 1 (`leaf` 1 is index 0); their sizes are leaf counts.

- transparency-dev/merkle at 417fb0c314750d94e53942e9f92e79b6d35915db:
  testonly/constants.go (leaves, node hashes, roots, compact trees) and cmd/proofgen/main.go
  (the inclusion and consistency proof tables proof/verify_test.go used to hold),
  https://github.com/transparency-dev/merkle/blob/417fb0c314750d94e53942e9f92e79b6d35915db/testonly/constants.go
  https://github.com/transparency-dev/merkle/blob/417fb0c314750d94e53942e9f92e79b6d35915db/cmd/proofgen/main.go
- google/certificate-transparency at c25edc2cced17500dec7bdc4e1fb51e9aeca5683:
  cpp/merkletree/merkle_tree_test.cc (kInputs, kSHA256Roots, kSHA256Paths, kSHA256Proofs),
  https://github.com/google/certificate-transparency/blob/c25edc2cced17500dec7bdc4e1fb51e9aeca5683/cpp/merkletree/merkle_tree_test.cc

The golden probes transparency-dev publishes for other languages (testdata/inclusion and
testdata/consistency, with their expected verdicts) are in tests/fixtures/merkle_probes.json.
"""

from __future__ import annotations

from typing import NamedTuple

h = bytes.fromhex

# transparency-dev/merkle testonly/constants.go LeafInputs();
# certificate-transparency merkle_tree_test.cc kInputs (the same eight inputs).
LEAF_INPUTS: list[bytes] = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

# transparency-dev/merkle testonly/constants.go NodeHashes(): NODE_HASHES[level][index] is the
# perfect node over leaves [index << level, (index + 1) << level) of the 8-leaf tree.
NODE_HASHES: list[list[bytes]] = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# transparency-dev/merkle testonly/constants.go EmptyRootHash();
# certificate-transparency merkle_tree_test.cc kSHA256EmptyTreeHash.
EMPTY_TREE_ROOT = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# transparency-dev/merkle testonly/constants.go RootHashes(), indexed by tree size 0..8;
# certificate-transparency merkle_tree_test.cc kSHA256Roots holds sizes 1..8 (the same values).
ROOTS: list[bytes] = [
    EMPTY_TREE_ROOT,
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# transparency-dev/merkle testonly/constants.go CompactTrees(): the compact range of each size
# 0..8, as (level, index) into NODE_HASHES, largest first.
COMPACT_TREES: list[list[tuple[int, int]]] = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]


class InclusionVector(NamedTuple):
    """A published inclusion proof: `leaf` is 1-based, as in both sources."""

    sources: tuple[str, ...]
    leaf: int
    size: int
    proof: list[bytes]


class ConsistencyVector(NamedTuple):
    """A published consistency proof between tree sizes `size1` <= `size2`."""

    sources: tuple[str, ...]
    size1: int
    size2: int
    proof: list[bytes]


TD = "transparency-dev/merkle cmd/proofgen/main.go"
CT = "certificate-transparency cpp/merkletree/merkle_tree_test.cc"
BOTH = (TD, CT)

# transparency-dev/merkle cmd/proofgen/main.go inclusionProofs (`leafIdx` 1-based);
# certificate-transparency merkle_tree_test.cc kSHA256Paths (`leaf` 1-based; its first entry,
# leaf 0 of size 0, is its "invalid path" case and is in test_merkle_vectors' precondition table).
INCLUSION_PROOFS: list[InclusionVector] = [
    InclusionVector(BOTH, 1, 1, []),
    InclusionVector(
        BOTH,
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    InclusionVector(
        BOTH,
        6,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    InclusionVector(
        BOTH,
        3,
        3,
        [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")],
    ),
    InclusionVector(
        BOTH,
        2,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# transparency-dev/merkle cmd/proofgen/main.go consistencyProofs;
# certificate-transparency merkle_tree_test.cc kSHA256Proofs (all but the 6 -> 7 proof).
CONSISTENCY_PROOFS: list[ConsistencyVector] = [
    ConsistencyVector(BOTH, 1, 1, []),
    ConsistencyVector(
        BOTH,
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    ConsistencyVector(
        BOTH,
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    ConsistencyVector(
        BOTH,
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    ConsistencyVector(
        (TD,),
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
