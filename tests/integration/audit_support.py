"""Shared pieces of the audit log's integration tests: a pool on a fresh, migrated control
database, the checkpoint signer, and enriched segments of synthetic leaves written the way
enrich_segment writes them."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from ledger.audit_leaf import AuditLeaf
from ledger.audit_models import EnrichedSegment
from ledger.keys import private_key_from_seed
from storage.audit.checkpoints import NoteCheckpointSigner
from storage.audit.enrich import insert_segment_rows
from storage.audit.leaves_object import leaves_key
from storage.dedup.migrate import migrate_database
from tests.conftest import RunningStack

ORIGIN = "geoledger.example/audit/us"
ACKED_AT = datetime(2026, 12, 1, tzinfo=UTC)


SIGNER = NoteCheckpointSigner(ORIGIN, private_key_from_seed(b"audit-test-log-key".ljust(32, b".")))
"""Signs checkpoints as a region does: an Ed25519 note key named after the log origin."""


@asynccontextmanager
async def fresh_control_pool(running_stack: RunningStack, label: str) -> AsyncIterator[Any]:
    """A pool (up to 4 connections) on a fresh control database with every control migration."""
    database = f"{label}_{uuid.uuid4().hex[:8]}_control"
    await running_stack.stack.postgres.ensure_databases([database])
    dsn = running_stack.postgres_dsn(database)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate_database(conn, "control")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


def synthetic_leaf(stream: str, seq: int) -> AuditLeaf:
    return AuditLeaf(
        stream=stream,
        seq=seq,
        hlc=1_000_000 + seq,
        tenant_id="acme",
        event_id=f"{stream.replace('/', '-')}-evt-{seq}",
        content_digest=hashlib.sha256(f"{stream}/{seq}".encode()).hexdigest(),
        key_id="k1",
    )


async def enrich_synthetic(
    pool: Any, stream: str, first_seq: int, last_seq: int
) -> list[AuditLeaf]:
    """Store an enriched segment of synthetic leaves for seqs first_seq..last_seq of `stream`."""
    leaves = [synthetic_leaf(stream, seq) for seq in range(first_seq, last_seq + 1)]
    segment = EnrichedSegment(
        stream=stream,
        first_seq=first_seq,
        last_seq=last_seq,
        records=len(leaves),
        manifest_sha256="0" * 64,
        worm_key=leaves_key(stream, first_seq, last_seq),
        worm_version="1",
        leaves_sha256="1" * 64,
    )
    acked = [ACKED_AT + timedelta(seconds=leaf.seq) for leaf in leaves]
    await insert_segment_rows(pool, segment, leaves, acked)
    return leaves


async def leaf_hashes_by_index(pool: Any) -> list[bytes]:
    rows = await pool.fetch(
        "SELECT idx, leaf_hash FROM audit_leaves WHERE idx IS NOT NULL ORDER BY idx"
    )
    assert [r["idx"] for r in rows] == list(range(len(rows)))
    return [bytes(r["leaf_hash"]) for r in rows]
