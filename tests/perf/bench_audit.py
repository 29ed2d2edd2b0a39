"""Audit: the Merkle log's append rate against a same-run hashlib baseline, and proofs per second.

Run: .venv/bin/python tests/perf/bench_audit.py [--leaves 200000] [--proofs 20000] [--rounds 3]

One function per figure (FIGURES, printed in order); each measures its own baseline in the same
run, so the ratios hold on a busy machine. A figure that needs the embedded stack starts it
itself (`BenchStack`, as bench_tiering does). Rates are the best of `--rounds` rounds: the
machine is shared, and the best round is the one least disturbed by the others' work.

- merkle append: `--leaves` leaf encodings (~220 bytes, the size of an audit leaf) leaf-hashed
  and appended through `CompactRange.extend` in batches of 1,000 (an anchor batch), every new
  perfect node handed on per batch as the log writes them. Baseline: the same leaves hashed
  with hashlib directly, SHA-256(0x00 || leaf), then n - 1 node hashes
  SHA-256(0x01 || left || right) pairing the level below until one is left (what any RFC 6962
  tree must hash at the least, no bookkeeping). Target: append >= 0.5x the baseline.
- merkle proofs: a `MemoryTree` of `--leaves` leaves; `--proofs` inclusion proofs of random
  leaves and consistency proofs from random old sizes, to the full tree, generated per second,
  and the same proofs verified per second.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

# Run as a script (`make bench`): the repository root must be importable for `tests.perf`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger.merkle import (
    CompactRange,
    MemoryTree,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from tests.perf._stack import BenchFailure, run_async, verdict

LEAF_BYTES = 220
ANCHOR_BATCH = 1_000
SEED = 12


def leaf_encodings(count: int) -> list[bytes]:
    """Distinct leaf-sized byte strings (a fixed prefix and the leaf's number)."""
    body = b"x" * (LEAF_BYTES - 12)
    return [body + index.to_bytes(12, "big") for index in range(count)]


def best_seconds(rounds: int, run: Callable[[], object]) -> float:
    """The fastest of `rounds` runs of `run`."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


# --- merkle append -----------------------------------------------------------------------------


def raw_hashlib_root(leaves: list[bytes]) -> bytes:
    """The baseline: leaf hashes, then n - 1 node hashes level by level, nothing else."""
    sha256 = hashlib.sha256
    level = [sha256(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        paired = [
            sha256(b"\x01" + level[at] + level[at + 1]).digest()
            for at in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def log_append(leaves: list[bytes]) -> CompactRange:
    """What the log does per batch: leaf-hash, append, hand the batch's new perfect nodes on
    (the storage layer writes them and lets them go)."""
    compact, stored = CompactRange.empty(), 0
    for start in range(0, len(leaves), ANCHOR_BATCH):
        batch = leaves[start : start + ANCHOR_BATCH]
        stored += len(compact.extend([leaf_hash(leaf) for leaf in batch]))
    if stored != 2 * len(leaves) - len(leaves).bit_count():
        raise BenchFailure(f"{stored} perfect nodes reported for {len(leaves)} leaves")
    return compact


async def merkle_append(args: argparse.Namespace) -> None:
    leaves = leaf_encodings(args.leaves)
    if log_append(leaves).root() != raw_hashlib_root(leaves):
        raise BenchFailure("CompactRange and the hashlib baseline disagree on the root")
    base = args.leaves / best_seconds(args.rounds, lambda: raw_hashlib_root(leaves))
    appended = args.leaves / best_seconds(args.rounds, lambda: log_append(leaves))
    ratio = appended / base
    print(f"\nmerkle append ({args.leaves:,} leaves of {LEAF_BYTES} B, leaves/s)")
    print(f"  baseline (hashlib leaf + n-1 node hashes)  {base:12,.0f}")
    print(f"  leaf_hash + CompactRange.extend            {appended:12,.0f}")
    print(f"  ratio to baseline                          {ratio:12.2f}  ", end="")
    print(f"(>= 0.5: {verdict(ratio >= 0.5)})")


# --- merkle proofs -----------------------------------------------------------------------------


async def merkle_proofs(args: argparse.Namespace) -> None:
    hashed = [leaf_hash(leaf) for leaf in leaf_encodings(args.leaves)]
    tree = MemoryTree.of(hashed)
    size, root = tree.size, tree.root()
    if root != root_of(hashed):
        raise BenchFailure("MemoryTree and root_of disagree on the root")
    chosen = random.Random(SEED)
    indexes = [chosen.randrange(size) for _ in range(args.proofs)]
    old_sizes = [chosen.randrange(1, size + 1) for _ in range(args.proofs)]
    old_roots = {old: tree.root(old) for old in old_sizes}
    inclusions = [tree.inclusion_proof(index) for index in indexes]
    consistencies = [tree.consistency_proof(old) for old in old_sizes]

    def verify_inclusions() -> None:
        for index, proof in zip(indexes, inclusions, strict=True):
            verify_inclusion(hashed[index], index, size, proof, root)

    def verify_consistencies() -> None:
        for old, proof in zip(old_sizes, consistencies, strict=True):
            verify_consistency(old, size, old_roots[old], root, proof)

    def generate_inclusions() -> None:
        for index in indexes:
            tree.inclusion_proof(index)

    def generate_consistencies() -> None:
        for old in old_sizes:
            tree.consistency_proof(old)

    def rate(run: Callable[[], object]) -> float:
        return float(args.proofs) / best_seconds(args.rounds, run)

    print(f"\nmerkle proofs (MemoryTree of {size:,} leaves, {args.proofs:,} proofs, proofs/s)")
    print(f"  inclusion, generated     {rate(generate_inclusions):10,.0f}")
    print(f"  inclusion, verified      {rate(verify_inclusions):10,.0f}")
    print(f"  consistency, generated   {rate(generate_consistencies):10,.0f}")
    print(f"  consistency, verified    {rate(verify_consistencies):10,.0f}")


# --- main --------------------------------------------------------------------------------------

FIGURES: list[Callable[[argparse.Namespace], Awaitable[None]]] = [merkle_append, merkle_proofs]


async def run(args: argparse.Namespace) -> None:
    for figure in FIGURES:
        await figure(args)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=200_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args(argv)


def main() -> int:
    arguments = parse()
    return run_async(lambda: run(arguments))


if __name__ == "__main__":
    sys.exit(main())
