"""The embedded S3 keeps its objects across a stop and a start (`geoledger dev down` / `dev up`)
and across a kill -9: every answered write is on disk before its answer leaves."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from ledger.config import ObjectStoreConfig
from storage.embedded.process import free_port, stop_pid
from storage.embedded.s3 import DEV_CREDENTIALS, EmbeddedS3
from storage.objectstore import ObjectNotFound, ObjectStore, open_object_store

BUCKET = "persist-test"
# Every byte value, and sizes around moto's in-memory spill threshold (1 MiB).
PAYLOADS = {
    "wal/us/n1/manifests/a.json": bytes(range(256)) * 3,
    "wal/us/n1/segments/b.seg.zst": os.urandom(1024 * 1024 + 17),
    "keys with spaces/and+plus%percent": b"",
}


@pytest.fixture(autouse=True)
def _dev_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DEV_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def _stop(pid: int) -> None:
    """Stop the server once this process holds no connection to it: a kept-alive client socket
    would leave the server's end in FIN_WAIT2 and its port unbindable for a minute (dev down
    stops every client process first)."""
    gc.collect()
    stop_pid(pid)


def _open(s3: EmbeddedS3) -> ObjectStore:
    return open_object_store(
        ObjectStoreConfig(url=f"s3://{BUCKET}/p", endpoint_url=s3.endpoint_url)
    )


def _client(s3: EmbeddedS3) -> object:
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=DEV_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DEV_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


async def _put_all(store: ObjectStore) -> None:
    for key, data in PAYLOADS.items():
        assert await store.put_if_absent(key, data)
    await store.put("replaced", b"old")
    await store.put("replaced", b"new")
    await store.put("deleted", b"gone soon")
    await store.delete("deleted")


async def _check_all(store: ObjectStore) -> None:
    for key, data in PAYLOADS.items():
        assert await store.get(key) == data, key
        # put-if-absent still refuses a key that exists after the restart.
        assert not await store.put_if_absent(key, b"other bytes")
        assert await store.get(key) == data
    assert await store.get("replaced") == b"new"
    with pytest.raises(ObjectNotFound):
        await store.get("deleted")
    info = await store.head("wal/us/n1/segments/b.seg.zst")
    assert info.sse == "AES256"
    assert info.sha256 == hashlib.sha256(PAYLOADS["wal/us/n1/segments/b.seg.zst"]).hexdigest()
    assert await store.get_range("wal/us/n1/manifests/a.json", 250, 260) == bytes(
        range(250, 256)
    ) + bytes(range(4))
    keys = [info.key async for info in store.list()]
    assert keys == sorted([*PAYLOADS, "replaced"])


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_objects_survive_a_restart_byte_for_byte(tmp_path: Path, stop: str) -> None:
    s3 = EmbeddedS3(tmp_path, free_port())
    pid = s3.start()
    try:
        s3.ensure_buckets([BUCKET])
        lifecycle = {
            "Rules": [{"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                       "Expiration": {"Days": 7}}]
        }  # fmt: skip
        client = _client(s3)
        client.put_bucket_lifecycle_configuration(  # type: ignore[attr-defined]
            Bucket=BUCKET, LifecycleConfiguration=lifecycle
        )
        client.close()  # type: ignore[attr-defined]
        asyncio.run(_put_all(_open(s3)))
    finally:
        if stop == "sigkill":
            os.killpg(pid, signal.SIGKILL)
        _stop(pid)

    pid = s3.start()
    try:
        assert s3.ensure_buckets([BUCKET]) == []  # the bucket came back too
        asyncio.run(_check_all(_open(s3)))
        rules = _client(s3).get_bucket_lifecycle_configuration(Bucket=BUCKET)  # type: ignore[attr-defined]
        assert [rule["ID"] for rule in rules["Rules"]] == ["expire"]
    finally:
        _stop(pid)


def test_a_deleted_bucket_stays_deleted(tmp_path: Path) -> None:
    s3 = EmbeddedS3(tmp_path, free_port())
    pid = s3.start()
    try:
        s3.ensure_buckets([BUCKET, "other"])
        client = _client(s3)
        client.delete_bucket(Bucket="other")  # type: ignore[attr-defined]
        client.close()  # type: ignore[attr-defined]
    finally:
        _stop(pid)
    pid = s3.start()
    try:
        assert s3.ensure_buckets([BUCKET, "other"]) == ["other"]
    finally:
        _stop(pid)


def test_object_lock_retention_survives_a_restart(tmp_path: Path) -> None:
    s3 = EmbeddedS3(tmp_path, free_port())
    pid = s3.start()
    until = datetime.now(UTC) + timedelta(days=1)
    try:
        client = _client(s3)
        client.create_bucket(Bucket="worm", ObjectLockEnabledForBucket=True)  # type: ignore[attr-defined]
        put = client.put_object(  # type: ignore[attr-defined]
            Bucket="worm",
            Key="audit/leaf",
            Body=b"leaf",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=until,
        )
        client.close()  # type: ignore[attr-defined]
    finally:
        _stop(pid)
    pid = s3.start()
    try:
        client = _client(s3)
        # (moto 5.2's GetObjectRetention answers 500 even before a restart; HEAD carries the lock.)
        head = client.head_object(Bucket="worm", Key="audit/leaf")  # type: ignore[attr-defined]
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
        with pytest.raises(ClientError, match="AccessDenied"):
            client.delete_object(  # type: ignore[attr-defined]
                Bucket="worm", Key="audit/leaf", VersionId=put["VersionId"]
            )
        assert client.get_object(Bucket="worm", Key="audit/leaf")["Body"].read() == b"leaf"  # type: ignore[attr-defined]
    finally:
        _stop(pid)


def test_racing_creators_of_one_key_have_exactly_one_winner(tmp_path: Path) -> None:
    # Writes to one key are serialised around their save, which makes moto's If-None-Match check
    # and store atomic (moto alone let two racing creators both win under load).
    s3 = EmbeddedS3(tmp_path, free_port())
    pid = s3.start()

    async def race() -> list[list[bool]]:
        store = _open(s3)
        return [
            list(
                await asyncio.gather(
                    *(store.put_if_absent(f"race/{round_}", bytes([n])) for n in range(4))
                )
            )
            for round_ in range(100)
        ]

    try:
        s3.ensure_buckets([BUCKET])
        outcomes = asyncio.run(race())
    finally:
        _stop(pid)
    assert [won.count(True) for won in outcomes] == [1] * 100
