"""`open_object_store` picks the backend by URL scheme and sends nothing while doing so."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import ObjectStoreConfig
from storage.objectstore import ObjectStore, open_object_store
from storage.objectstore.gcs import GcsObjectStore
from storage.objectstore.local import LocalObjectStore
from storage.objectstore.s3 import S3ObjectStore

# Nothing listens here: building a store must not need it to.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("url", "backend", "described"),
    [
        ("s3://bucket/ledger", S3ObjectStore, "s3://bucket/ledger"),
        ("s3://bucket/ledger/deep/", S3ObjectStore, "s3://bucket/ledger/deep"),
        ("s3://bucket", S3ObjectStore, "s3://bucket"),
        ("gs://bucket/ledger", GcsObjectStore, "gs://bucket/ledger"),
        ("gs://bucket", GcsObjectStore, "gs://bucket"),
    ],
)
def test_network_backends_by_scheme(url: str, backend: type, described: str) -> None:
    store = open_object_store(ObjectStoreConfig(url=url, endpoint_url=UNREACHABLE))
    assert isinstance(store, backend)
    assert isinstance(store, ObjectStore)
    assert store.describe() == described


def test_local_backend_by_scheme(tmp_path: Path) -> None:
    store = open_object_store(ObjectStoreConfig(url=f"file://{tmp_path}"))
    assert isinstance(store, LocalObjectStore)
    assert store.describe() == f"file://{tmp_path}"


def test_s3_kms_encryption_needs_a_key_id() -> None:
    with pytest.raises(ValueError, match="kms_key_id"):
        S3ObjectStore("bucket", sse="aws:kms", endpoint_url=UNREACHABLE)
    with pytest.raises(ValueError, match="got 'rot13'"):
        S3ObjectStore("bucket", sse="rot13", endpoint_url=UNREACHABLE)
    store = open_object_store(
        ObjectStoreConfig(
            url="s3://bucket/p", endpoint_url=UNREACHABLE, sse="aws:kms", kms_key_id="alias/x"
        )
    )
    assert store.describe() == "s3://bucket/p"


def test_local_root_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        LocalObjectStore("relative/root")
