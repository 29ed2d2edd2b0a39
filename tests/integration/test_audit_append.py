"""append_batch on the real Postgres: batches build exactly the RFC 9162 tree of every leaf in
order, a batch re-run changes nothing, a stream's gap holds back that stream only, concurrent
appenders never give one index twice, and every stored proof verifies."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ledger import merkle
from ledger.audit_leaf import decode_leaf
from ledger.audit_models import AnchoredBatch
from ledger.checkpoint import Checkpoint, parse_checkpoint
from ledger.signed_note import NoteVerifier, open_note, vkey
from storage.audit import (
    BatchOutOfOrder,
    append_batch,
    backlog,
    consistency_between,
    inclusion_receipt_parts,
    latest_checkpoint,
)
from storage.audit.checkpoints import checkpoint_from_row
from tests.conftest import RunningStack
from tests.integration.audit_support import (
    SIGNER,
    enrich_synthetic,
    fresh_control_pool,
    leaf_hashes_by_index,
)

pytestmark = pytest.mark.timeout(240)
SIGNER_VKEY = vkey(SIGNER.origin, SIGNER.private_key.public_key())
# (stream, first_seq, last_seq): three streams of uneven segments, 330 leaves.
SEGMENTS = [
    *(("us/n1", first, first + 29) for first in range(1, 150, 30)),
    *(("us/n2", first, first + 6) for first in range(1, 120, 7)),
    *(("us/n3", first, first + 60) for first in range(1, 62, 61)),
]


@pytest.fixture
async def pool(running_stack: RunningStack) -> AsyncIterator[Any]:
    async with fresh_control_pool(running_stack, "auditappend") as pool:
        yield pool


async def _enrich_all(pool: Any) -> None:
    for stream, first, last in SEGMENTS:
        await enrich_synthetic(pool, stream, first, last)


async def _drain(pool: Any, max_leaves: int, first_batch: int = 1) -> int:
    """Append batches until the backlog is empty; the next batch number."""
    batch = first_batch
    while (await backlog(pool)).segments:
        await append_batch(pool, batch=batch, max_leaves=max_leaves, signer=SIGNER)
        batch += 1
    return batch


async def test_batches_build_the_tree_of_every_leaf_in_stream_order(pool: Any) -> None:
    await _enrich_all(pool)
    roots = {}
    batch = 1
    while (await backlog(pool)).segments:
        anchored = await append_batch(pool, batch=batch, max_leaves=50, signer=SIGNER)
        assert anchored.size - anchored.old_size <= 61  # whole segments, one over 50 alone
        roots[anchored.size] = bytes.fromhex(anchored.root_hex)
        batch += 1
    hashes = await leaf_hashes_by_index(pool)
    assert len(hashes) == sum(last - first + 1 for _, first, last in SEGMENTS)
    for size, root in roots.items():
        assert merkle.root_of(hashes[:size]) == root
    checkpoint = await latest_checkpoint(pool)
    assert checkpoint is not None and checkpoint.size == len(hashes)
    # The note is the C2SP checkpoint of the log, signed by the log's key.
    opened = open_note(checkpoint.note, [NoteVerifier.from_vkey(SIGNER_VKEY)])
    assert opened.verified == [SIGNER.origin]
    assert parse_checkpoint(opened.text) == Checkpoint(
        SIGNER.origin, len(hashes), merkle.root_of(hashes)
    )
    # Each stream's leaves are in seq order in the log, and the streams took turns.
    rows = await pool.fetch("SELECT stream, seq FROM audit_leaves ORDER BY idx")
    for stream in ("us/n1", "us/n2", "us/n3"):
        seqs = [r["seq"] for r in rows if r["stream"] == stream]
        assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))
    assert [r["stream"] for r in rows[:30]] == ["us/n1"] * 30
    assert rows[30]["stream"] == "us/n2"


async def test_a_batch_run_again_changes_nothing(pool: Any) -> None:
    await _enrich_all(pool)
    first = await append_batch(pool, batch=1, max_leaves=100, signer=SIGNER)
    nodes = await pool.fetchval("SELECT count(*) FROM audit_nodes")
    again = await append_batch(pool, batch=1, max_leaves=100, signer=SIGNER)
    assert again == first
    assert await pool.fetchval("SELECT count(*) FROM audit_nodes") == nodes
    assert await pool.fetchval("SELECT size FROM audit_log") == first.size
    second = await append_batch(pool, batch=2, max_leaves=100, signer=SIGNER)
    assert second.old_size == first.size
    assert await append_batch(pool, batch=1, max_leaves=100, signer=SIGNER) == first
    await pool.execute("DELETE FROM audit_checkpoints WHERE batch = 1")
    with pytest.raises(BatchOutOfOrder):
        await append_batch(pool, batch=1, max_leaves=100, signer=SIGNER)


async def test_a_gap_holds_back_its_own_stream_only(pool: Any) -> None:
    for stream, first, last in [("us/n1", 1, 3), ("us/n1", 7, 9), ("us/n2", 1, 3), ("us/n2", 4, 6)]:
        await enrich_synthetic(pool, stream, first, last)
    anchored = await append_batch(pool, batch=1, max_leaves=1000, signer=SIGNER)
    assert (anchored.size, anchored.segments) == (9, 3)
    pending = await pool.fetch(
        "SELECT stream, first_seq FROM audit_segments WHERE appended_at IS NULL"
    )
    assert [(r["stream"], r["first_seq"]) for r in pending] == [("us/n1", 7)]
    assert (await append_batch(pool, batch=2, max_leaves=1000, signer=SIGNER)).size == 9
    await enrich_synthetic(pool, "us/n1", 4, 6)
    assert (await append_batch(pool, batch=3, max_leaves=1000, signer=SIGNER)).size == 15
    rows = await pool.fetch("SELECT seq FROM audit_leaves WHERE stream = 'us/n1' ORDER BY idx")
    assert [r["seq"] for r in rows] == list(range(1, 10))
    assert merkle.root_of(await leaf_hashes_by_index(pool)) == bytes.fromhex(
        (await latest_checkpoint(pool)).root_hex  # type: ignore[union-attr]
    )


async def test_concurrent_appenders_never_give_an_index_twice(pool: Any) -> None:
    await _enrich_all(pool)
    # Batch numbers come from one workflow in order; here they race: one that loses to a higher
    # one is refused, the others serialize on the head row, and a duplicate of one is answered
    # with what that one stored.
    results = await asyncio.gather(
        *(append_batch(pool, batch=b, max_leaves=40, signer=SIGNER) for b in (1, 2, 3, 4)),
        append_batch(pool, batch=1, max_leaves=40, signer=SIGNER),
        return_exceptions=True,
    )
    assert all(isinstance(r, AnchoredBatch | BatchOutOfOrder) for r in results), results
    if isinstance(results[0], AnchoredBatch):
        assert results[4] == results[0]
    anchored = sorted({(r.old_size, r.size) for r in results if isinstance(r, AnchoredBatch)})
    assert all(a[1] == b[0] for a, b in itertools.pairwise(anchored)), anchored
    assert anchored[0][0] == 0
    hashes = await leaf_hashes_by_index(pool)  # asserts indexes 0..n-1, each once
    assert len(hashes) == anchored[-1][1]
    await _drain(pool, 40, first_batch=5)
    assert merkle.root_of(await leaf_hashes_by_index(pool)) == bytes.fromhex(
        (await latest_checkpoint(pool)).root_hex  # type: ignore[union-attr]
    )


async def test_every_stored_proof_verifies(pool: Any) -> None:
    await _enrich_all(pool)
    checkpoints = []
    batch = 1
    while (await backlog(pool)).segments:
        checkpoints.append(await append_batch(pool, batch=batch, max_leaves=70, signer=SIGNER))
        batch += 1
    final = checkpoints[-1]
    rows = await pool.fetch("SELECT tenant_id, event_id, idx FROM audit_leaves ORDER BY idx")
    for row in rows:
        parts = await inclusion_receipt_parts(pool, row["tenant_id"], row["event_id"])
        assert parts is not None and parts.index == row["idx"]
        assert decode_leaf(parts.leaf).event_id == row["event_id"]
        merkle.verify_inclusion(
            merkle.leaf_hash(parts.leaf),
            parts.index,
            parts.checkpoint.size,
            parts.proof,
            bytes.fromhex(parts.checkpoint.root_hex),
        )
        assert parts.checkpoint.size == final.size
    for old in checkpoints:
        for new in checkpoints:
            if old.size <= new.size:
                proof = await consistency_between(pool, old.size, new.size)
                merkle.verify_consistency(
                    old.size,
                    new.size,
                    bytes.fromhex(old.root_hex),
                    bytes.fromhex(new.root_hex),
                    proof,
                )
    assert await inclusion_receipt_parts(pool, "acme", "no-such-event") is None
    # A receipt against an earlier checkpoint: only leaves it covers have one.
    first = checkpoints[0]
    for row in rows[first.size - 1 : first.size + 1]:
        parts = await inclusion_receipt_parts(pool, "acme", row["event_id"], batch=first.batch)
        if row["idx"] >= first.size:
            assert parts is None
            continue
        assert parts is not None and parts.checkpoint == await _checkpoint(pool, first.batch)
        merkle.verify_inclusion(
            merkle.leaf_hash(parts.leaf),
            parts.index,
            first.size,
            parts.proof,
            bytes.fromhex(first.root_hex),
        )


async def _checkpoint(pool: Any, batch: int) -> Any:
    return checkpoint_from_row(
        await pool.fetchrow("SELECT * FROM audit_checkpoints WHERE batch = $1", batch)
    )


async def test_append_rate_on_10k_leaves(pool: Any) -> None:
    """10k leaves in batches of 2k: the figure is printed (run with -s); the tree is checked."""
    for first in range(1, 10_001, 500):
        await enrich_synthetic(pool, "us/n1", first, first + 499)
    started = time.perf_counter()
    batch = await _drain(pool, 2_000)
    elapsed = time.perf_counter() - started
    checkpoint = await latest_checkpoint(pool)
    assert checkpoint is not None and checkpoint.size == 10_000
    assert merkle.root_of(await leaf_hashes_by_index(pool)) == bytes.fromhex(checkpoint.root_hex)
    print(
        f"\nappend_batch: 10000 leaves in {batch - 1} batches, {elapsed:.2f} s, "
        f"{10_000 / elapsed:,.0f} leaves/s"
    )
