"""Write-once storage on GCS: a bucket retention policy, `gs://bucket/prefix`.

A bucket with a retention policy refuses to delete or replace any object younger than the
policy's period; a locked policy can be neither removed nor shortened. Each write is a
conditional create (`ifGenerationMatch=0`: GCS refuses it with 412 when the key has a live
object), so an existing object is never replaced even where no policy holds it. The receipt's
retention date is the one GCS reports for the object (`retentionExpirationTime`), or, from a
service that reports none, the creation time plus `retention_days`: what the policy that
`check_bucket` requires gives.

fake-gcs-server (the embedded stack's GCS) honours `ifGenerationMatch=0` but keeps no retention
policy and no holds: on it a delete succeeds and `check_bucket` says so. Its filesystem backend
keeps no older generations either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from typing_extensions import override

from storage.objectstore.base import (
    DEFAULT_CONTENT_TYPE,
    SHA256_METADATA,
    TransportPolicy,
    check_key,
)
from storage.objectstore.errors import PreconditionFailed
from storage.objectstore.gcs_client import open_gcs_client
from storage.objectstore.gcs_errors import run_gcs_call
from storage.objectstore.worm import (
    WormConflict,
    WormReceipt,
    WormStore,
    check_retention_days,
    check_same_bytes,
)

T = TypeVar("T")

_DAY_S = 86_400


class GcsWormStore(WormStore):
    """Write-once objects under `prefix` in `bucket`, which has a retention policy."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        retention_days: int,
        endpoint_url: str | None = None,
        kms_key_name: str | None = None,
        transport: TransportPolicy | None = None,
    ) -> None:
        policy = transport or TransportPolicy()
        self._prefix = prefix.strip("/")
        self._url = f"gs://{bucket}/{self._prefix}" if self._prefix else f"gs://{bucket}"
        self._retention_days = check_retention_days(retention_days)
        self._kms_key_name = kms_key_name
        self._timeout = (policy.connect_timeout_s, policy.read_timeout_s)
        self._client = open_gcs_client(self._url, endpoint_url)
        self._bucket_name = bucket
        self._bucket = self._client.bucket(bucket)

    @override
    def describe(self) -> str:
        return self._url

    @override
    async def write_once(self, key: str, data: bytes) -> WormReceipt:
        check_key(self._url, key)
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            blob = await self._call("write_once", key, self._create, key, data, sha256)
        except PreconditionFailed:
            return await self._existing(key, sha256)
        return WormReceipt(key, str(blob.generation), sha256, self._retained_until(blob))

    @override
    async def read(self, key: str, version: str) -> bytes:
        check_key(self._url, key)
        blob = self._bucket.blob(self._full_key(key), generation=int(version))
        data: bytes = await self._call("read", key, blob.download_as_bytes, timeout=self._timeout)
        return data

    @override
    async def ensure_bucket(self) -> None:
        def create() -> None:
            if self._client.lookup_bucket(self._bucket_name, timeout=self._timeout) is not None:
                return  # an existing bucket is left as it is: check_bucket judges it
            bucket = self._client.bucket(self._bucket_name)
            bucket.retention_period = self._retention_days * _DAY_S
            created = self._client.create_bucket(bucket, timeout=self._timeout)
            # Locking is for good (the period can then only grow); a service that kept no
            # policy (fake-gcs-server) has nothing to lock, and check_bucket reports that.
            if created.retention_period:
                created.lock_retention_policy(timeout=self._timeout)

        await self._call("ensure_bucket", None, create)

    @override
    async def check_bucket(self) -> list[str]:
        bucket = await self._call("check_bucket", None, self._client.get_bucket, self._bucket_name)
        period = int(bucket.retention_period or 0)
        if not period:
            return [f"{self._url}: bucket {self._bucket_name} has no retention policy"]
        problems: list[str] = []
        if period < self._retention_days * _DAY_S:
            problems.append(
                f"{self._url}: expected a retention period >= {self._retention_days} days, "
                f"got {period / _DAY_S:g} days"
            )
        if not bucket.retention_policy_locked:
            problems.append(f"{self._url}: the retention policy is not locked (it can be removed)")
        return problems

    def _create(self, key: str, data: bytes, sha256: str) -> Any:
        blob = self._bucket.blob(self._full_key(key), kms_key_name=self._kms_key_name)
        blob.metadata = {SHA256_METADATA: sha256}
        # Generation 0 matches only "no live object": the server creates at most once.
        blob.upload_from_string(
            data, content_type=DEFAULT_CONTENT_TYPE, if_generation_match=0, timeout=self._timeout
        )
        return blob

    async def _existing(self, key: str, sha256: str) -> WormReceipt:
        """The receipt of the live object under `key` when its bytes are `sha256`'s."""

        def fetch() -> tuple[Any, bytes]:
            blob = self._bucket.get_blob(self._full_key(key), timeout=self._timeout)
            if blob is None:  # deleted since our create was refused: nothing to compare with
                raise WormConflict(self._url, key, "write_once", "expected an object, got none")
            pinned = self._bucket.blob(blob.name, generation=blob.generation)
            return blob, pinned.download_as_bytes(timeout=self._timeout)

        blob, stored = await self._call("write_once", key, fetch)
        check_same_bytes(self._url, key, sha256, stored, str(blob.generation))
        return WormReceipt(key, str(blob.generation), sha256, self._retained_until(blob))

    def _retained_until(self, blob: Any) -> datetime:
        reported: datetime | None = blob.retention_expiration_time
        if reported is not None:
            return reported
        created: datetime = blob.time_created
        return created + timedelta(days=self._retention_days)

    def _full_key(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    async def _call(
        self, operation: str, key: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """Run a blocking client call in a thread; provider errors become the store's errors."""
        return await run_gcs_call(self._url, operation, key, fn, *args, **kwargs)
