"""publish_tiles to region us's real store (moto S3): the tiles hold the stored nodes of the
C2SP tlog-tiles layout, the entry bundles the leaves, the checkpoint is the stored note, and a
later size writes only what changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from storage.audit import AuditError, append_batch, publish_tiles
from storage.objectstore import ObjectStore, open_object_store
from tests.conftest import RunningStack
from tests.integration.audit_support import (
    SIGNER,
    enrich_synthetic,
    fresh_control_pool,
    leaf_hashes_by_index,
)
from tests.support.isolated import isolated_settings

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def pool(running_stack: RunningStack) -> AsyncIterator[Any]:
    async with fresh_control_pool(running_stack, "audittiles") as pool:
        yield pool


@pytest.fixture
async def store(running_stack: RunningStack, tmp_path: Path) -> ObjectStore:
    settings = await isolated_settings(running_stack, tmp_path, "audittiles")
    return open_object_store(settings.region("us").object_store)


def _bundle_entries(bundle: bytes) -> list[bytes]:
    entries, offset = [], 0
    while offset < len(bundle):
        size = int.from_bytes(bundle[offset : offset + 2], "big")
        entries.append(bundle[offset + 2 : offset + 2 + size])
        offset += 2 + size
    return entries


async def test_tiles_hold_the_log_and_grow_with_it(pool: Any, store: ObjectStore) -> None:
    await enrich_synthetic(pool, "us/n1", 1, 300)
    first = await append_batch(pool, batch=1, max_leaves=300, signer=SIGNER)
    assert await publish_tiles(pool, store, first.size) == 2 * 2 + 1 + 1
    hashes = await leaf_hashes_by_index(pool)
    assert await store.get("audit/tlog/tile/0/000") == b"".join(hashes[:256])
    assert await store.get("audit/tlog/tile/0/001.p/44") == b"".join(hashes[256:300])
    assert await store.get("audit/tlog/tile/1/000.p/1") == merkle.root_of(hashes[:256])
    leaves = [
        bytes(r["leaf"]) for r in await pool.fetch("SELECT leaf FROM audit_leaves ORDER BY idx")
    ]
    assert _bundle_entries(await store.get("audit/tlog/tile/entries/001.p/44")) == leaves[256:]
    note = (await store.get("audit/tlog/checkpoint")).decode()
    assert note == await pool.fetchval("SELECT note FROM audit_checkpoints WHERE batch = 1")
    assert await publish_tiles(pool, store, first.size) == 0

    await enrich_synthetic(pool, "us/n1", 301, 512)
    second = await append_batch(pool, batch=2, max_leaves=1000, signer=SIGNER)
    # Level 0: tile 1 becomes full (and its bundle); level 1: the partial tile widens to 2.
    assert await publish_tiles(pool, store, second.size) == 2 + 1 + 1
    hashes = await leaf_hashes_by_index(pool)
    assert await store.get("audit/tlog/tile/0/001") == b"".join(hashes[256:512])
    assert await store.get("audit/tlog/tile/1/000.p/2") == (
        merkle.root_of(hashes[:256]) + merkle.root_of(hashes[256:512])
    )
    with pytest.raises(AuditError, match="checkpoint of size 999"):
        await publish_tiles(pool, store, 999)
