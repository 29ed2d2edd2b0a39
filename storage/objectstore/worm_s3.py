"""Write-once storage on S3: Object Lock in COMPLIANCE mode, `s3://bucket/prefix`.

Each write is a conditional create (`If-None-Match: *`: S3 refuses it with 412 when the key has a
current object) carrying its own retention (`ObjectLockMode=COMPLIANCE`,
`ObjectLockRetainUntilDate`). In COMPLIANCE mode nobody, the root account included, can delete
the locked version or shorten its retention before that date. A delete without a version id is
allowed: it adds a delete marker and the locked version stays, which is why readers read the
version the receipt named. Object Lock needs a bucket created with it enabled (versioning comes
with it); `ensure_bucket` creates one with a default COMPLIANCE retention as a second guard.
moto 5.x enforces all of this (conditional create, locked-version delete, lock on creation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from botocore.exceptions import ClientError
from typing_extensions import override

from storage.objectstore.base import (
    DEFAULT_CONTENT_TYPE,
    SHA256_METADATA,
    TransportPolicy,
    check_key,
)
from storage.objectstore.errors import ObjectNotFound, PreconditionFailed
from storage.objectstore.s3_client import encryption_arguments, open_s3_client, put_object
from storage.objectstore.s3_errors import (
    run_s3_call,
    s3_error_code,
    s3_http_status,
)
from storage.objectstore.worm import (
    WormReceipt,
    WormStore,
    check_retention_days,
    check_same_bytes,
    retain_until,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

T = TypeVar("T")

_COMPLIANCE: Final = "COMPLIANCE"
_NO_LOCK = {"ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"}


class S3WormStore(WormStore):
    """Write-once objects under `prefix` in the Object Lock enabled `bucket`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        retention_days: int,
        endpoint_url: str | None = None,
        region_name: str = "us-east-1",
        sse: str = "AES256",
        kms_key_id: str | None = None,
        transport: TransportPolicy | None = None,
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._url = f"s3://{bucket}/{self._prefix}" if self._prefix else f"s3://{bucket}"
        self._retention_days = check_retention_days(retention_days)
        self._region_name = region_name
        self._encryption = encryption_arguments(sse, kms_key_id)
        self._client: S3Client = open_s3_client(
            endpoint_url, region_name, transport or TransportPolicy()
        )

    @override
    def describe(self) -> str:
        return self._url

    @override
    async def write_once(self, key: str, data: bytes) -> WormReceipt:
        check_key(self._url, key)
        sha256 = hashlib.sha256(data).hexdigest()
        until = retain_until(self._retention_days)
        arguments: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": self._full_key(key),
            "Body": data,
            "ContentType": DEFAULT_CONTENT_TYPE,
            "Metadata": {SHA256_METADATA: sha256},
            "IfNoneMatch": "*",
            "ObjectLockMode": _COMPLIANCE,
            "ObjectLockRetainUntilDate": until,
            # S3 takes an Object Lock write only with a checksum of the body; it checks this one.
            "ChecksumAlgorithm": "SHA256",
            **self._encryption,
        }
        try:
            answer = await self._call("write_once", key, put_object, self._client, arguments)
        except PreconditionFailed:
            return await self._first_version(key, sha256, None)
        created = WormReceipt(key, str(answer["VersionId"]), sha256, until)
        return await self._first_version(key, sha256, created)

    @override
    async def read(self, key: str, version: str) -> bytes:
        check_key(self._url, key)

        def fetch() -> bytes:
            answer = self._client.get_object(
                Bucket=self._bucket, Key=self._full_key(key), VersionId=version
            )
            return answer["Body"].read()

        return await self._call("read", key, fetch)

    @override
    async def ensure_bucket(self) -> None:
        def create() -> None:
            try:
                self._client.head_bucket(Bucket=self._bucket)
                return  # an existing bucket is left as it is: check_bucket judges it
            except ClientError as exc:
                if s3_http_status(exc) != 404:
                    raise
            arguments: dict[str, Any] = {"Bucket": self._bucket, "ObjectLockEnabledForBucket": True}
            if self._region_name != "us-east-1":
                arguments["CreateBucketConfiguration"] = {"LocationConstraint": self._region_name}
            self._client.create_bucket(**arguments)
            self._client.put_object_lock_configuration(
                Bucket=self._bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {
                        "DefaultRetention": {"Mode": _COMPLIANCE, "Days": self._retention_days}
                    },
                },
            )

        await self._call("ensure_bucket", None, create)

    @override
    async def check_bucket(self) -> list[str]:
        def configuration() -> Mapping[str, Any] | None:
            try:
                answer = self._client.get_object_lock_configuration(Bucket=self._bucket)
            except ClientError as exc:
                if s3_error_code(exc) in _NO_LOCK:
                    return None
                raise
            return answer.get("ObjectLockConfiguration", {})

        found = await self._call("check_bucket", None, configuration)
        if found is None or found.get("ObjectLockEnabled") != "Enabled":
            return [f"{self._url}: bucket {self._bucket} has no Object Lock enabled"]
        default = found.get("Rule", {}).get("DefaultRetention", {})
        days = int(default.get("Days") or 0) + 365 * int(default.get("Years") or 0)
        problems: list[str] = []
        if default.get("Mode") != _COMPLIANCE:
            problems.append(
                f"{self._url}: expected default retention mode {_COMPLIANCE}, "
                f"got {default.get('Mode')!r}"
            )
        if days < self._retention_days:
            problems.append(
                f"{self._url}: expected default retention >= {self._retention_days} days, "
                f"got {days}"
            )
        return problems

    async def _first_version(self, key: str, sha256: str, ours: WormReceipt | None) -> WormReceipt:
        """The receipt of the oldest version of `key` when its bytes are `sha256`'s.

        Not simply the current object: after a delete without version id (a delete marker) a
        create succeeds again, so `key` may hold a later version beside the locked first one. The
        first one is what write-once means; `ours` is the receipt of what this call created, if any.
        """

        def oldest() -> Mapping[str, Any]:
            full_key = self._full_key(key)
            answer = self._client.list_object_versions(Bucket=self._bucket, Prefix=full_key)
            # S3 lists a key's versions newest first.
            versions = [item for item in answer.get("Versions", []) if item["Key"] == full_key]
            if not versions:
                raise ObjectNotFound(self._url, key, "write_once", "expected a version, got none")
            return versions[-1]

        first = await self._call("write_once", key, oldest)
        version = str(first["VersionId"])
        if ours is not None and ours.version == version:
            return ours
        check_same_bytes(self._url, key, sha256, await self.read(key, version), version)
        head = await self._call(
            "write_once",
            key,
            self._client.head_object,
            Bucket=self._bucket,
            Key=self._full_key(key),
            VersionId=version,
        )
        until: datetime = head["ObjectLockRetainUntilDate"]
        return WormReceipt(key, version, sha256, until.astimezone(UTC))

    def _full_key(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    async def _call(
        self, operation: str, key: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """Run a blocking boto3 call in a thread; provider errors become the store's errors."""
        return await run_s3_call(self._url, operation, key, fn, *args, **kwargs)
