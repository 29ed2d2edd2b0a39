"""The local write-once backend (read-only files, not WORM) and the retention date every backend
computes. S3 and GCS are in tests/integration/test_worm_store.py, on the real emulators."""

from __future__ import annotations

import hashlib
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.config import ObjectStoreConfig
from storage.objectstore.errors import ObjectNotFound
from storage.objectstore.worm import WormConflict, retain_until
from storage.objectstore.worm_factory import check_worm_bucket, open_worm_store
from storage.objectstore.worm_local import LocalWormStore

KEY = "audit/us/n1/00000000000000000001-00000000000000000002.leaves"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "worm"
    directory.mkdir()
    return directory


async def test_a_write_leaves_a_read_only_file_and_a_receipt(root: Path) -> None:
    store = LocalWormStore(root, retention_days=30)
    receipt = await store.write_once(KEY, b"leaves")
    path = root.joinpath(*KEY.split("/"))
    assert path.read_bytes() == b"leaves"
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0
    assert receipt.version == receipt.sha256 == hashlib.sha256(b"leaves").hexdigest()
    assert await store.read(KEY, receipt.version) == b"leaves"


async def test_other_bytes_are_refused_and_the_file_kept(root: Path) -> None:
    store = LocalWormStore(root, retention_days=30)
    first = await store.write_once(KEY, b"leaves")
    with pytest.raises(WormConflict, match="sha256"):
        await store.write_once(KEY, b"forged leaves")
    assert await store.read(KEY, first.version) == b"leaves"
    assert (await store.write_once(KEY, b"leaves")).version == first.version


async def test_a_file_replaced_behind_the_store_does_not_read_as_the_version(root: Path) -> None:
    store = LocalWormStore(root, retention_days=30)
    receipt = await store.write_once(KEY, b"leaves")
    path = root.joinpath(*KEY.split("/"))
    path.unlink()  # what anyone who may write the directory can do: the FS is not WORM
    path.write_bytes(b"replaced")
    with pytest.raises(ObjectNotFound, match="other bytes"):
        await store.read(KEY, receipt.version)


async def test_the_local_fs_is_reported_as_not_worm(root: Path) -> None:
    problems = await check_worm_bucket(ObjectStoreConfig(url=f"file://{root}"), 30)
    assert len(problems) == 1
    assert "not write-once" in problems[0]


def test_the_factory_picks_the_backend_by_scheme(root: Path) -> None:
    store = open_worm_store(ObjectStoreConfig(url=f"file://{root}"), 30)
    assert isinstance(store, LocalWormStore)
    assert store.describe() == f"file://{root}"


def test_retention_is_never_shorter_than_the_days_asked() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    assert retain_until(7, now) == datetime(2026, 1, 8, 12, 0, 1, tzinfo=UTC)
    whole = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retain_until(7, whole) == whole + timedelta(days=7)


def test_retention_of_less_than_a_day_is_refused(root: Path) -> None:
    with pytest.raises(ValueError, match="retention_days >= 1"):
        LocalWormStore(root, retention_days=0)
