"""`committed_through` on a real (local) object store: a stream counts as committed in a target
up to the end of its gap-free run of manifests, which is what replay there can apply."""

from __future__ import annotations

from pathlib import Path

from ledger.config import ObjectStoreConfig
from storage.crr.committed import committed_through
from storage.crr.naming import manifest_key
from storage.objectstore import open_object_store

STREAM = "us/n1"


async def test_committed_stops_at_a_missing_manifest_and_moves_on_once_it_is_there(
    tmp_path: Path,
) -> None:
    store = open_object_store(ObjectStoreConfig(url=f"file://{tmp_path}"))
    assert await committed_through(store, STREAM) == 0
    for first, last in ((1, 10), (11, 25), (41, 50)):  # 26-40 not committed yet
        await store.put(manifest_key(STREAM, first, last), b"{}")
    assert await committed_through(store, STREAM) == 25
    assert await committed_through(store, STREAM, after_seq=10) == 25
    await store.put(manifest_key(STREAM, 26, 40), b"{}")
    assert await committed_through(store, STREAM, after_seq=25) == 50
    # Another stream's manifests never count.
    await store.put(manifest_key("us/n2", 51, 60), b"{}")
    assert await committed_through(store, STREAM, after_seq=50) == 50
