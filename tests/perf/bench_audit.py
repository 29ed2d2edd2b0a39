"""Audit: the Merkle log's append rate against a same-run hashlib baseline, and proofs per second.

Run: .venv/bin/python tests/perf/bench_audit.py [--leaves 200000] [--proofs 20000] [--rounds 3]
        [--db-leaves 20000] [--db-proofs 2000] [--window 20] [--scaled-age 1.0] [--profile]
        [--only FIGURE]

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
- log append: `--db-leaves` enriched leaves (segments of 1,000 of one stream, stored as
  enrich_segment stores them) appended by `storage.audit.append.append_batch` into a fresh
  control database, one batch of 1,000 per transaction with its signed checkpoint. Baseline: the
  same leaf hashes through `CompactRange.extend` in memory, batch by batch (the ratio is what
  PostgreSQL, the node rows and the checkpoint cost on top of the tree arithmetic).
- stored proofs: `--db-proofs` inclusion proofs of random leaves of that log through
  `storage.audit.proofs.record_receipt_parts` (leaf row, latest checkpoint, proof nodes in one
  query) on one connection, against `MemoryTree.inclusion_proof` of the same leaves.
- anchoring latency (tests/perf/audit_anchoring.py): ack -> leaf in a cosigned checkpoint at
  twice the demo's ingest rate, both regions, every process of a deployment running. The demo's
  ingest rate is measured first in the same run: the demo's 2,000 us events posted to us's node
  in batches of 250, each when the last was answered (what `geoledger demo` does), events/s.
  p50 / p99 per batch age (the demo's 2.0 s, then `--scaled-age`) next to the age, the floor;
  target: p99 within the SLO's budget scaled like the batch age (12 x the age). A missed target
  (or `--profile`) runs the audit worker under cProfile for one more window and prints a summary.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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
from storage.audit.append import append_batch
from storage.audit.checkpoints import latest_checkpoint
from storage.audit.proofs import record_receipt_parts
from tests.conftest import RunningStack
from tests.integration.audit_support import SIGNER, enrich_synthetic, fresh_control_pool
from tests.perf._stack import BenchFailure, BenchStack, run_async, verdict
from tests.perf.audit_anchoring import anchoring_latency

LEAF_BYTES = 220
ANCHOR_BATCH = 1_000
SEED = 12
STREAM = "us/n1"


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


# --- the log in PostgreSQL --------------------------------------------------------------------


def control_stack(stack: BenchStack) -> RunningStack:
    """The bench's stack as the integration tests' helpers take it."""
    return RunningStack(stack.settings, stack.config_path, stack.stack)


async def enriched_log(pool: Any, leaves: int) -> list[bytes]:
    """`leaves` enriched, unappended leaves in segments of ANCHOR_BATCH of one stream, as
    enrich_segment stores them; their leaf hashes in log order."""
    hashes: list[bytes] = []
    for first in range(1, leaves + 1, ANCHOR_BATCH):
        last = min(first + ANCHOR_BATCH, leaves + 1) - 1
        hashes += [leaf.leaf_hash() for leaf in await enrich_synthetic(pool, STREAM, first, last)]
    return hashes


async def append_all(pool: Any, leaves: int) -> float:
    """Seconds to append every enriched leaf by append_batch, one anchor batch at a time."""
    started = time.perf_counter()
    for batch in range(1, -(-leaves // ANCHOR_BATCH) + 1):
        await append_batch(pool, batch=batch, max_leaves=ANCHOR_BATCH, signer=SIGNER)
    return time.perf_counter() - started


def extend_all(hashes: list[bytes]) -> CompactRange:
    """The in-memory part of append_batch: the same leaf hashes through CompactRange.extend,
    batch by batch."""
    compact = CompactRange.empty()
    for start in range(0, len(hashes), ANCHOR_BATCH):
        compact.extend(hashes[start : start + ANCHOR_BATCH])
    return compact


async def stored_append(args: argparse.Namespace) -> None:
    """append_batch into a fresh control database per round against CompactRange.extend."""
    with BenchStack(postgres_only=True) as stack:
        best, hashes = float("inf"), []
        for round_ in range(args.rounds):
            async with fresh_control_pool(control_stack(stack), f"bench_append{round_}") as pool:
                hashes = await enriched_log(pool, args.db_leaves)
                best = min(best, await append_all(pool, args.db_leaves))
                stored = await latest_checkpoint(pool)
                if stored is None or stored.root_hex != root_of(hashes).hex():
                    raise BenchFailure("the stored log's root is not the root of its leaves")
    memory = args.db_leaves / best_seconds(args.rounds, lambda: extend_all(hashes))
    stored_rate = args.db_leaves / best
    print(
        f"\nlog append ({args.db_leaves:,} enriched leaves, batches of {ANCHOR_BATCH:,}, leaves/s)"
    )
    print(f"  CompactRange.extend in memory (baseline)   {memory:12,.0f}")
    print(f"  append_batch into PostgreSQL               {stored_rate:12,.0f}")
    print(f"  ratio to baseline                          {stored_rate / memory:12.3f}")


async def stored_proofs(args: argparse.Namespace) -> None:
    """Inclusion proofs from the stored log (record_receipt_parts: leaf, checkpoint, proof
    nodes in one query) against MemoryTree proofs of the same leaves."""
    chosen = random.Random(SEED)
    seqs = [chosen.randrange(1, args.db_leaves + 1) for _ in range(args.db_proofs)]
    with BenchStack(postgres_only=True) as stack:
        async with fresh_control_pool(control_stack(stack), "bench_proofs") as pool:
            hashes = await enriched_log(pool, args.db_leaves)
            await append_all(pool, args.db_leaves)
            best = float("inf")
            for _ in range(args.rounds):
                started = time.perf_counter()
                for seq in seqs:
                    parts = await record_receipt_parts(pool, STREAM, seq)
                    if parts is None:
                        raise BenchFailure(f"no receipt for seq {seq}")
                best = min(best, time.perf_counter() - started)
            verify_inclusion(
                hashes[parts.index],
                parts.index,
                parts.checkpoint.size,
                parts.proof,
                bytes.fromhex(parts.checkpoint.root_hex),
            )
    tree = MemoryTree.of(hashes)

    def memory_proofs() -> None:
        for seq in seqs:
            tree.inclusion_proof(seq - 1)

    memory = args.db_proofs / best_seconds(args.rounds, memory_proofs)
    stored = args.db_proofs / best
    print(
        f"\ninclusion proofs (log of {args.db_leaves:,} leaves, {args.db_proofs:,} proofs,"
        " proofs/s)"
    )
    print(f"  MemoryTree (baseline)                      {memory:12,.0f}")
    print(f"  from PostgreSQL, one connection            {stored:12,.0f}")
    print(f"  ratio to baseline                          {stored / memory:12.4f}")


# --- main --------------------------------------------------------------------------------------

FIGURES: list[Callable[[argparse.Namespace], Awaitable[None]]] = [
    merkle_append,
    merkle_proofs,
    stored_append,
    stored_proofs,
    anchoring_latency,
]


async def run(args: argparse.Namespace) -> None:
    for figure in FIGURES:
        if args.only in (None, figure.__name__):
            await figure(args)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=200_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db-leaves", type=int, default=20_000)
    parser.add_argument("--db-proofs", type=int, default=2_000)
    parser.add_argument("--window", type=float, default=20.0, help="seconds of load per batch age")
    parser.add_argument(
        "--scaled-age", type=float, default=1.0, help="the second run's batch_max_age_s"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the audit worker even if targets are met"
    )
    parser.add_argument(
        "--only", choices=[figure.__name__ for figure in FIGURES], help="run one figure"
    )
    return parser.parse_args(argv)


def main() -> int:
    arguments = parse()
    return run_async(lambda: run(arguments))


if __name__ == "__main__":
    sys.exit(main())
