"""Write-once storage on the real emulators: S3 Object Lock on moto, GCS on fake-gcs-server.

What each service enforces here, and so what these tests can prove:

| service         | refuses an overwrite                | refuses a delete                        |
|-----------------|-------------------------------------|-----------------------------------------|
| moto 5.x (S3)   | yes: `If-None-Match: *` -> 412      | yes: the locked version (COMPLIANCE)    |
|                 |                                     | -> 403; a delete without version id     |
|                 |                                     | only adds a delete marker               |
| fake-gcs-server | yes: `ifGenerationMatch=0` -> 412   | NO: it keeps no bucket retention policy |
|                 |                                     | and no holds, and deletes anything      |

The GCS delete and bucket-check cases are strict xfails: they state what real GCS does with a
locked retention policy, and they start failing (so the marker goes) the day the emulator
enforces it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs

from ledger.config import ObjectStoreConfig
from storage.objectstore import ObjectNotFound
from storage.objectstore.worm import WormConflict, WormStore
from storage.objectstore.worm_factory import (
    check_worm_bucket,
    ensure_worm_bucket,
    open_worm_store,
)
from tests.conftest import RunningStack
from tests.integration.objectstore_support import unique_bucket

RETENTION_DAYS = 3
KEY = "audit/us/n1/00000000000000000001-00000000000000000009.leaves"
LEAVES = b"leaf encodings of one sealed segment"
GCS_HAS_NO_RETENTION = pytest.mark.xfail(
    strict=True, reason="fake-gcs-server keeps no bucket retention policy and deletes anything"
)


def worm_config(backend: str, stack: RunningStack) -> ObjectStoreConfig:
    bucket = unique_bucket(f"worm-{backend}")
    if backend == "s3":
        return ObjectStoreConfig(url=f"s3://{bucket}/leaves", endpoint_url=stack.s3_endpoint)
    return ObjectStoreConfig(url=f"gs://{bucket}/leaves", endpoint_url=stack.gcs_endpoint)


@pytest.fixture(params=["s3", "gcs"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def config(backend: str, running_stack: RunningStack) -> ObjectStoreConfig:
    config = worm_config(backend, running_stack)
    await ensure_worm_bucket(config, RETENTION_DAYS)
    return config


@pytest.fixture
def store(config: ObjectStoreConfig) -> WormStore:
    return open_worm_store(config, RETENTION_DAYS)


def s3_client(config: ObjectStoreConfig) -> Any:
    return boto3.client("s3", endpoint_url=config.endpoint_url, region_name="us-east-1")


def gcs_bucket(config: ObjectStoreConfig) -> gcs.Bucket:
    client = gcs.Client(
        project="geoledger-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": config.endpoint_url},
    )
    return client.bucket(config.bucket)


async def test_an_overwrite_with_other_bytes_is_refused_and_the_object_kept(
    backend: str, config: ObjectStoreConfig, store: WormStore
) -> None:
    receipt = await store.write_once(KEY, LEAVES)
    with pytest.raises(WormConflict, match="sha256"):
        await store.write_once(KEY, LEAVES + b" and a forged leaf")
    assert await store.read(KEY, receipt.version) == LEAVES
    # The service itself refused the create: it holds the one version we wrote, nothing new.
    full_key = f"{config.prefix}/{KEY}"
    if backend == "s3":
        listing = s3_client(config).list_object_versions(Bucket=config.bucket, Prefix=full_key)
        assert [item["VersionId"] for item in listing["Versions"]] == [receipt.version]
    else:
        live = gcs_bucket(config).get_blob(full_key)
        assert live is not None
        assert str(live.generation) == receipt.version


async def test_an_identical_rewrite_returns_the_first_receipt(store: WormStore) -> None:
    first = await store.write_once(KEY, LEAVES)
    again = await store.write_once(KEY, LEAVES)
    assert again == first
    assert first.sha256 == hashlib.sha256(LEAVES).hexdigest()


async def test_the_retention_date_is_the_configured_days_from_now(
    backend: str, config: ObjectStoreConfig, store: WormStore
) -> None:
    before = datetime.now(UTC)
    receipt = await store.write_once(KEY, LEAVES)
    after = datetime.now(UTC)
    window = timedelta(days=RETENTION_DAYS)
    assert before + window - timedelta(seconds=1) <= receipt.retain_until
    assert receipt.retain_until <= after + window + timedelta(seconds=1)
    if backend == "s3":
        # What the service holds, not only what we computed.
        head = s3_client(config).head_object(
            Bucket=config.bucket, Key=f"{config.prefix}/{KEY}", VersionId=receipt.version
        )
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] == receipt.retain_until


async def test_s3_refuses_to_delete_the_locked_version(running_stack: RunningStack) -> None:
    config = worm_config("s3", running_stack)
    await ensure_worm_bucket(config, RETENTION_DAYS)
    store = open_worm_store(config, RETENTION_DAYS)
    receipt = await store.write_once(KEY, LEAVES)
    client = s3_client(config)
    full_key = f"{config.prefix}/{KEY}"
    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        client.delete_object(Bucket=config.bucket, Key=full_key, VersionId=receipt.version)
    # Without a version id S3 only adds a delete marker: the locked version is still there.
    marker = client.delete_object(Bucket=config.bucket, Key=full_key)
    assert marker["DeleteMarker"] is True
    assert await store.read(KEY, receipt.version) == LEAVES
    # A create now succeeds at the service (the key has no current object), but write-once
    # still answers with the first version, or a conflict for other bytes.
    assert await store.write_once(KEY, LEAVES) == receipt
    with pytest.raises(WormConflict):
        await store.write_once(KEY, b"other bytes after a delete marker")
    assert await store.read(KEY, receipt.version) == LEAVES


@GCS_HAS_NO_RETENTION
async def test_gcs_refuses_to_delete_a_retained_object(
    running_stack: RunningStack,
) -> None:
    config = worm_config("gcs", running_stack)
    await ensure_worm_bucket(config, RETENTION_DAYS)
    store = open_worm_store(config, RETENTION_DAYS)
    receipt = await store.write_once(KEY, LEAVES)
    blob = gcs_bucket(config).blob(f"{config.prefix}/{KEY}")
    # Real GCS: 403 "object is under active retention"; fake-gcs-server deletes it.
    with pytest.raises(api_exceptions.Forbidden):
        blob.delete()
    assert await store.read(KEY, receipt.version) == LEAVES


async def test_a_bucket_without_lock_is_reported(backend: str, running_stack: RunningStack) -> None:
    config = worm_config(backend, running_stack)
    if backend == "s3":
        running_stack.stack.s3.ensure_buckets([config.bucket])
        expected = "no Object Lock"
    else:
        running_stack.stack.gcs.ensure_buckets([config.bucket])
        expected = "no retention policy"
    problems = await check_worm_bucket(config, RETENTION_DAYS)
    assert len(problems) == 1
    assert expected in problems[0]


async def test_an_s3_bucket_retaining_too_few_days_is_reported(
    running_stack: RunningStack,
) -> None:
    config = worm_config("s3", running_stack)
    await ensure_worm_bucket(config, RETENTION_DAYS)
    assert await check_worm_bucket(config, RETENTION_DAYS) == []
    problems = await check_worm_bucket(config, RETENTION_DAYS + 1)
    assert problems == [
        f"s3://{config.bucket}/leaves: expected default retention >= {RETENTION_DAYS + 1} days, "
        f"got {RETENTION_DAYS}"
    ]


@GCS_HAS_NO_RETENTION
async def test_a_prepared_gcs_bucket_passes_the_check(running_stack: RunningStack) -> None:
    config = worm_config("gcs", running_stack)
    await ensure_worm_bucket(config, RETENTION_DAYS)
    assert await check_worm_bucket(config, RETENTION_DAYS) == []


async def test_the_embedded_stack_creates_the_us_audit_bucket_with_object_lock(
    running_stack: RunningStack,
) -> None:
    region = running_stack.settings.regions["us"]
    assert region.audit_store is not None
    assert await check_worm_bucket(region.audit_store, region.audit_retention_days) == []


async def test_reading_a_version_never_written_is_not_found(store: WormStore) -> None:
    await store.write_once(KEY, LEAVES)
    missing = "1" if store.describe().startswith("gs://") else "not-a-version"
    with pytest.raises(ObjectNotFound):
        await store.read(KEY, missing)
