"""The S3 backend (boto3): `s3://bucket/prefix`, any S3-compatible endpoint via `endpoint_url`.

boto3 blocks, so every call runs in a thread (`asyncio.to_thread`) on one client per store (boto3
clients are thread-safe). Every write asks for server-side encryption: SSE-S3 (`AES256`) or SSE-KMS
(`aws:kms` with a key id). Create-if-absent and compare-and-swap are S3 conditional writes
(`If-None-Match: *`, `If-Match: <etag>`), atomic on the server; moto 5.x honours both headers.
Credentials come from boto3's default chain (environment, profile, instance role ...).
Archive classes (GLACIER / DEEP_ARCHIVE): storage/objectstore/s3_restore.py.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from typing_extensions import override

from storage.objectstore.base import (
    DEFAULT_CONTENT_TYPE,
    SHA256_METADATA,
    STREAM_CHUNK_SIZE,
    ObjectInfo,
    ObjectStore,
    PathArg,
    RestoreStatus,
    TransportPolicy,
    check_key,
    check_limit,
    check_prefix,
    check_range,
)
from storage.objectstore.errors import ObjectNotFound, PreconditionFailed
from storage.objectstore.files import atomic_output, check_destination, file_sha256
from storage.objectstore.s3_client import encryption_arguments, open_s3_client, put_object
from storage.objectstore.s3_errors import (
    run_s3_call,
    s3_error_code,
    s3_http_status,
)
from storage.objectstore.s3_restore import request_restore, restore_status_of

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

T = TypeVar("T")

_LIST_PAGE = 1000


class S3ObjectStore(ObjectStore):
    """Objects under `prefix` in `bucket`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region_name: str = "us-east-1",
        sse: str = "AES256",
        kms_key_id: str | None = None,
        transport: TransportPolicy | None = None,
    ) -> None:
        policy = transport or TransportPolicy()
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._url = f"s3://{bucket}/{self._prefix}" if self._prefix else f"s3://{bucket}"
        self._encryption = encryption_arguments(sse, kms_key_id)
        self._client: S3Client = open_s3_client(
            endpoint_url,
            region_name,
            policy,
            # Enough pooled connections for the multipart threads plus concurrent callers.
            max_pool_connections=max(10, policy.multipart_concurrency * 2),
        )
        self._transfer = TransferConfig(
            multipart_threshold=policy.multipart_chunk_bytes,
            multipart_chunksize=policy.multipart_chunk_bytes,
            max_concurrency=policy.multipart_concurrency,
            use_threads=True,
        )

    @override
    def describe(self) -> str:
        return self._url

    @override
    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        if_match: str | None = None,
        storage_class: str | None = None,
    ) -> ObjectInfo:
        check_key(self._url, key)
        sha256 = hashlib.sha256(data).hexdigest()
        arguments = self._put_arguments(key, data, content_type, sha256, storage_class)
        if if_match is not None:
            arguments["IfMatch"] = _quoted(if_match)
        try:
            answer = await self._call("put", key, put_object, self._client, arguments)
        except ObjectNotFound as exc:
            if if_match is None:
                raise
            # A compare-and-swap against a missing object fails its condition, as on GCS.
            raise PreconditionFailed(
                self._url, key, "put", f"expected version {if_match!r}, got no object"
            ) from exc
        return ObjectInfo(
            key=key,
            size=len(data),
            version=_unquoted(answer["ETag"]),
            sha256=sha256,
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            sse=answer.get("ServerSideEncryption"),
            kms_key=answer.get("SSEKMSKeyId"),
        )

    @override
    async def put_if_absent(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        storage_class: str | None = None,
    ) -> bool:
        check_key(self._url, key)
        sha256 = hashlib.sha256(data).hexdigest()
        arguments = self._put_arguments(key, data, content_type, sha256, storage_class)
        arguments["IfNoneMatch"] = "*"
        try:
            await self._call("put_if_absent", key, put_object, self._client, arguments)
        except PreconditionFailed:
            return False
        return True

    @override
    async def put_file(
        self, key: str, path: PathArg, *, content_type: str | None = None
    ) -> ObjectInfo:
        check_key(self._url, key)
        source = Path(path)
        # One streaming pass for the digest, then boto3's managed (multipart) upload reads the
        # file again part by part: memory stays near part size x concurrency.
        sha256 = await asyncio.to_thread(file_sha256, source)
        extra: dict[str, Any] = {
            **self._encryption,
            "ContentType": content_type or DEFAULT_CONTENT_TYPE,
            "Metadata": {SHA256_METADATA: sha256},
        }
        await self._call(
            "put_file",
            key,
            self._client.upload_file,
            str(source),
            self._bucket,
            self._full_key(key),
            ExtraArgs=extra,
            Config=self._transfer,
        )
        return await self.head(key)

    @override
    async def get(self, key: str) -> bytes:
        check_key(self._url, key)

        def read() -> bytes:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._full_key(key))
            return answer["Body"].read()

        return await self._call("get", key, read)

    @override
    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        check_key(self._url, key)
        # One GET: the server streams a single version, whatever puts happen meanwhile.
        answer = await self._call(
            "get_stream", key, self._client.get_object, Bucket=self._bucket, Key=self._full_key(key)
        )
        body = answer["Body"]
        try:
            while chunk := await self._call("get_stream", key, body.read, STREAM_CHUNK_SIZE):
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    @override
    async def get_to_file(self, key: str, path: PathArg) -> ObjectInfo:
        check_key(self._url, key)
        destination = check_destination(path)

        def download() -> ObjectInfo:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._full_key(key))
            body = answer["Body"]
            try:
                with atomic_output(destination) as target:
                    while chunk := body.read(STREAM_CHUNK_SIZE):
                        target.write(chunk)
            finally:
                body.close()
            return self._info(key, answer)

        return await self._call("get_to_file", key, download)

    @override
    async def get_range(self, key: str, start: int, end_exclusive: int) -> bytes:
        check_key(self._url, key)
        check_range(start, end_exclusive)
        if start == end_exclusive:
            await self.head(key)  # an empty range of a missing object is still missing
            return b""

        def read() -> bytes:
            try:
                answer = self._client.get_object(
                    Bucket=self._bucket,
                    Key=self._full_key(key),
                    Range=f"bytes={start}-{end_exclusive - 1}",
                )
            except ClientError as exc:
                # 416: the object exists but ends at or before `start`; a slice there is empty.
                if s3_error_code(exc) == "InvalidRange" or s3_http_status(exc) == 416:
                    return b""
                raise
            return answer["Body"].read()

        return await self._call("get_range", key, read)

    @override
    async def head(self, key: str) -> ObjectInfo:
        check_key(self._url, key)
        answer = await self._call(
            "head", key, self._client.head_object, Bucket=self._bucket, Key=self._full_key(key)
        )
        return self._info(key, answer)

    @override
    async def exists(self, key: str) -> bool:
        try:
            await self.head(key)
        except ObjectNotFound:
            return False
        return True

    @override
    async def delete(self, key: str) -> None:
        check_key(self._url, key)
        # S3 answers 204 for a missing key too, which makes delete idempotent by itself.
        await self._call(
            "delete", key, self._client.delete_object, Bucket=self._bucket, Key=self._full_key(key)
        )

    @override
    async def list(
        self, prefix: str = "", start_after: str | None = None, limit: int | None = None
    ) -> AsyncIterator[ObjectInfo]:
        check_prefix(self._url, prefix)
        check_limit(limit)
        remaining = limit
        arguments: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._full_prefix(prefix)}
        if start_after:
            arguments["StartAfter"] = self._full_key(start_after)
        while remaining is None or remaining > 0:
            arguments["MaxKeys"] = _LIST_PAGE if remaining is None else min(_LIST_PAGE, remaining)
            page = await self._call("list", None, self._client.list_objects_v2, **arguments)
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    key=self._relative(item["Key"]),
                    size=item["Size"],
                    version=_unquoted(item["ETag"]),
                    last_modified=item.get("LastModified"),
                )
                if remaining is not None:
                    remaining -= 1
            if not page.get("IsTruncated"):
                return
            arguments["ContinuationToken"] = page["NextContinuationToken"]

    @override
    async def restore(self, key: str, days: int) -> None:
        check_key(self._url, key)
        full_key = self._full_key(key)
        await self._call(
            "restore", key, request_restore, self._client, self._bucket, full_key, days
        )

    @override
    async def restore_status(self, key: str) -> RestoreStatus:
        check_key(self._url, key)
        answer = await self._call(
            "restore_status",
            key,
            self._client.head_object,
            Bucket=self._bucket,
            Key=self._full_key(key),
        )
        return restore_status_of(answer)

    # --- helpers ----------------------------------------------------------------------------

    def _full_key(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    def _full_prefix(self, prefix: str) -> str:
        # "ledger/" not "ledger": keys of a sibling prefix "ledger2/..." must not show up.
        return f"{self._prefix}/{prefix}" if self._prefix else prefix

    def _relative(self, full_key: str) -> str:
        return full_key[len(self._prefix) + 1 :] if self._prefix else full_key

    def _put_arguments(
        self,
        key: str,
        data: bytes,
        content_type: str | None,
        sha256: str,
        storage_class: str | None,
    ) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": self._full_key(key),
            "Body": data,
            "ContentType": content_type or DEFAULT_CONTENT_TYPE,
            "Metadata": {SHA256_METADATA: sha256},
            **self._encryption,
        }
        if storage_class is not None:
            arguments["StorageClass"] = storage_class
        return arguments

    def _info(self, key: str, answer: Mapping[str, Any]) -> ObjectInfo:
        metadata = answer.get("Metadata") or {}
        return ObjectInfo(
            key=key,
            size=answer["ContentLength"],
            version=_unquoted(answer["ETag"]),
            sha256=metadata.get(SHA256_METADATA),
            content_type=answer.get("ContentType"),
            last_modified=answer.get("LastModified"),
            sse=answer.get("ServerSideEncryption"),
            kms_key=answer.get("SSEKMSKeyId"),
        )

    async def _call(
        self, operation: str, key: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """Run a blocking boto3 call in a thread; provider errors become the store's errors."""
        return await run_s3_call(self._url, operation, key, fn, *args, **kwargs)


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _unquoted(etag: str) -> str:
    return etag.strip('"')
