"""enrich_segment against a stream really shipped to region us's store (moto S3): every record
becomes a leaf in the leaves object (the local write-once backend) and in the control database,
enriching twice leaves one set of rows and the same object, and a segment whose bytes do not
match its manifest is refused before anything is written."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ledger.audit_leaf import decode_leaf
from ledger.config import Settings
from storage.audit import AuditError, SegmentNotShipped, backlog, enrich_segment
from storage.crr.errors import VerificationError
from storage.objectstore.worm import WormStore
from storage.objectstore.worm_local import LocalWormStore
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.shipped_stream import (
    LAST_SEQ,
    PER_SEGMENT,
    SEGMENTS,
    STREAM,
    keys_of,
    public_key,
    ship_stream,
    stores_of,
)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "auditenrich")
    await ship_stream(settings)
    return settings


@pytest.fixture
async def worm(tmp_path: Path) -> LocalWormStore:
    worm = LocalWormStore(tmp_path / "worm", retention_days=1)
    await worm.ensure_bucket()
    return worm


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(settings.region("us").control_dsn, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def _enrich(settings: Settings, pool: Any, worm: WormStore, first_seq: int) -> Any:
    store = stores_of(settings)["us"]
    return await enrich_segment(
        pool, store, worm, "us", STREAM, first_seq, public_key=public_key(settings)
    )


async def test_every_record_becomes_a_leaf_once(
    settings: Settings, pool: Any, worm: LocalWormStore
) -> None:
    results = [
        await _enrich(settings, pool, worm, segment * PER_SEGMENT + 1)
        for _ in range(2)
        for segment in range(SEGMENTS)
    ]
    assert results[:SEGMENTS] == results[SEGMENTS:]
    assert [(r.first_seq, r.records) for r in results[:SEGMENTS]] == [
        (segment * PER_SEGMENT + 1, PER_SEGMENT) for segment in range(SEGMENTS)
    ]
    assert await pool.fetchval("SELECT count(*) FROM audit_segments") == SEGMENTS
    rows = await pool.fetch("SELECT seq, event_id, leaf, idx FROM audit_leaves ORDER BY seq")
    assert [r["seq"] for r in rows] == list(range(1, LAST_SEQ + 1))
    assert [r["event_id"] for r in rows] == [f"evt-{seq}" for seq in range(1, LAST_SEQ + 1)]
    assert all(r["idx"] is None for r in rows)
    assert (await backlog(pool)).segments == SEGMENTS
    # The leaves object: its header names the segment and manifest, each line is a row's leaf.
    store = stores_of(settings)["us"]
    first_manifest, first_segment = keys_of(0)
    first = results[0]
    assert first.worm_key == "audit/us/n1/00000000000000000001-00000000000000000003.leaves"
    header, *lines, end = (await worm.read(first.worm_key, first.worm_version)).split(b"\n")
    assert end == b"" and json.loads(header)["stream"] == STREAM
    assert json.loads(header)["manifest_sha256"] == await pool.fetchval(
        "SELECT manifest_sha256 FROM audit_segments WHERE first_seq = 1"
    )
    assert [base64.b64decode(line) for line in lines] == [bytes(r["leaf"]) for r in rows[:3]]
    leaf = decode_leaf(bytes(rows[0]["leaf"]))
    assert (leaf.stream, leaf.seq, leaf.tenant_id) == (STREAM, 1, "acme")
    assert await store.exists(first_manifest) and await store.exists(first_segment)


async def test_a_tampered_segment_is_refused_and_writes_nothing(
    settings: Settings, pool: Any, worm: LocalWormStore, tmp_path: Path
) -> None:
    store = stores_of(settings)["us"]
    _, segment_key = keys_of(2)
    packed = bytearray(await store.get(segment_key))
    packed[len(packed) // 2] ^= 0x01
    await store.put(segment_key, bytes(packed))
    with pytest.raises(VerificationError, match="SHA-256"):
        await _enrich(settings, pool, worm, 2 * PER_SEGMENT + 1)
    assert [p for p in (tmp_path / "worm").rglob("*") if p.is_file()] == []
    assert await pool.fetchval("SELECT count(*) FROM audit_segments") == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_leaves") == 0


async def test_acked_at_is_the_records_acceptance_time(
    settings: Settings, pool: Any, worm: LocalWormStore
) -> None:
    await _enrich(settings, pool, worm, 1)
    row = await pool.fetchrow("SELECT leaf, acked_at FROM audit_leaves WHERE seq = 1")
    leaf = decode_leaf(bytes(row["leaf"]))
    # shipped_stream writes hlc = hlc0 + seq and accepted_at_ms = hlc0 >> 16.
    assert int(row["acked_at"].timestamp() * 1000) == (leaf.hlc - leaf.seq) >> 16
    pending = await backlog(pool)
    assert pending.oldest_unanchored_acked_at == row["acked_at"]
    assert (pending.segments, pending.leaves) == (1, PER_SEGMENT)


async def test_another_regions_stream_or_an_unshipped_start_is_refused(
    settings: Settings, pool: Any, worm: LocalWormStore
) -> None:
    store, key = stores_of(settings)["us"], public_key(settings)
    with pytest.raises(AuditError, match="region 'eu'"):
        await enrich_segment(pool, store, worm, "eu", STREAM, 1, public_key=key)
    with pytest.raises(SegmentNotShipped, match="starting at seq 2"):
        await enrich_segment(pool, store, worm, "us", STREAM, 2, public_key=key)
    assert await pool.fetchval("SELECT count(*) FROM audit_segments") == 0
