"""What only the local FS backend does: its file layout, its own files and its one clash.

The shared behaviour is in tests/integration/test_objectstore_conformance.py, run on all backends.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.objectstore.errors import ObjectNotFound, ObjectStoreError
from storage.objectstore.local import LocalObjectStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "store"
    directory.mkdir()
    return directory


async def keys(store: LocalObjectStore, prefix: str = "") -> list[str]:
    return [info.key async for info in store.list(prefix)]


async def test_objects_are_plain_files_under_the_root(root: Path) -> None:
    store = LocalObjectStore(root)
    await store.put("wal/us/n1.seg", b"segment")
    assert (root / "wal" / "us" / "n1.seg").read_bytes() == b"segment"
    # Only the lock file is left beside the objects; no temporary file survives a put.
    assert sorted(os.listdir(root)) == [".geoledger-lock", "wal"]
    assert os.listdir(root / "wal" / "us") == ["n1.seg"]


async def test_own_files_and_foreign_names_are_not_listed(root: Path) -> None:
    store = LocalObjectStore(root)
    await store.put("a", b"a")
    (root / ".geoledger-tmp-leftover").write_bytes(b"a crashed put")
    os.symlink(root / "a", root / "link")  # not a regular file: not an object
    os.mkdir(root / "emptied")  # directories emptied by deletes stay; they hold no keys
    (root / os.fsdecode(b"latin1-\xe9")).write_bytes(b"not UTF-8")
    assert await keys(store) == ["a"]
    with pytest.raises(ObjectNotFound):
        await store.get("link")


async def test_a_key_cannot_also_be_a_directory_of_keys(root: Path) -> None:
    store = LocalObjectStore(root)
    await store.put("a", b"object")
    with pytest.raises(ObjectStoreError, match="cannot hold a key and keys below it") as below:
        await store.put("a/b", b"below an object")
    assert not isinstance(below.value, ObjectNotFound)
    await store.put("c/d", b"below a directory")
    with pytest.raises(ObjectStoreError, match="cannot hold a key and keys below it"):
        await store.put("c", b"over a directory")
    with pytest.raises(ObjectNotFound):
        await store.get("c")  # a directory is not an object
    assert await keys(store) == ["a", "c/d"]


async def test_sha256_and_content_type_travel_with_the_file(root: Path) -> None:
    store = LocalObjectStore(root)
    written = await store.put("x", b"abc", content_type="text/plain")
    reopened = await LocalObjectStore(root).head("x")
    assert reopened.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert (reopened.content_type, reopened.version) == ("text/plain", written.version)


async def test_a_file_written_by_someone_else_is_an_object_without_a_digest(root: Path) -> None:
    (root / "foreign").write_bytes(b"copied in by hand")
    info = await LocalObjectStore(root).head("foreign")
    assert (info.size, info.sha256) == (len(b"copied in by hand"), None)
    assert info.version  # an inode/mtime token instead, still usable for if_match
