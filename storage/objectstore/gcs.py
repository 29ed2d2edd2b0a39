"""The Google Cloud Storage backend (google-cloud-storage): `gs://bucket/prefix`.

The client blocks, so every call runs in a thread; one client per store, a fresh `Blob` per call
(blobs carry per-request state and are not shared between threads). Create-if-absent is
`ifGenerationMatch=0` and compare-and-swap `ifGenerationMatch=<generation>`, atomic on the server.
GCS encrypts everything at rest; `kms_key_name` selects a customer-managed key (CMEK) instead of
Google's. With `endpoint_url` (fake-gcs-server, other emulators) the client talks to that endpoint
with anonymous credentials; otherwise Application Default Credentials are used.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from google.api_core import exceptions as api_exceptions
from google.cloud.storage.retry import DEFAULT_RETRY
from typing_extensions import override

from storage.objectstore.base import (
    DEFAULT_CONTENT_TYPE,
    SHA256_METADATA,
    STREAM_CHUNK_SIZE,
    ObjectInfo,
    ObjectStore,
    PathArg,
    TransportPolicy,
    check_key,
    check_limit,
    check_prefix,
    check_range,
)
from storage.objectstore.errors import ObjectNotFound, PreconditionFailed
from storage.objectstore.files import atomic_output, check_destination, file_sha256
from storage.objectstore.gcs_client import open_gcs_client
from storage.objectstore.gcs_errors import run_gcs_call
from storage.objectstore.no_archives import WithoutArchives

T = TypeVar("T")

_LIST_PAGE = 1000
# Resumable upload chunks must be multiples of 256 KiB.
_CHUNK_GRANULE = 256 * 1024


class GcsObjectStore(WithoutArchives, ObjectStore):
    """Objects under `prefix` in `bucket`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        kms_key_name: str | None = None,
        transport: TransportPolicy | None = None,
    ) -> None:
        policy = transport or TransportPolicy()
        self._prefix = prefix.strip("/")
        self._url = f"gs://{bucket}/{self._prefix}" if self._prefix else f"gs://{bucket}"
        self._kms_key_name = kms_key_name
        self._timeout = (policy.connect_timeout_s, policy.read_timeout_s)
        self._retry = DEFAULT_RETRY.with_timeout(policy.retry_deadline_s)
        self._chunk_size = max(
            _CHUNK_GRANULE, policy.multipart_chunk_bytes // _CHUNK_GRANULE * _CHUNK_GRANULE
        )
        self._client = open_gcs_client(self._url, endpoint_url)
        self._bucket = self._client.bucket(bucket)

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
        generation = None if if_match is None else self._generation(key, if_match)
        try:
            blob = await self._call(
                "put", key, self._upload, key, data, content_type, generation, storage_class
            )
        except ObjectNotFound as exc:
            if if_match is None:
                raise
            raise PreconditionFailed(
                self._url, key, "put", f"expected version {if_match!r}, got no object"
            ) from exc
        return self._info(key, blob)

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
        try:
            # Generation 0 matches only "no live object": the server creates at most once.
            await self._call(
                "put_if_absent", key, self._upload, key, data, content_type, 0, storage_class
            )
        except PreconditionFailed:
            return False
        return True

    @override
    async def put_file(
        self, key: str, path: PathArg, *, content_type: str | None = None
    ) -> ObjectInfo:
        check_key(self._url, key)
        source = Path(path)
        sha256 = await asyncio.to_thread(file_sha256, source)

        def upload() -> Any:
            blob = self._new_blob(key, sha256)
            # A chunk size turns large files into a resumable upload sent piece by piece.
            blob.chunk_size = self._chunk_size
            blob.upload_from_filename(
                str(source),
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                retry=self._retry,
                timeout=self._timeout,
            )
            return blob

        return self._info(key, await self._call("put_file", key, upload))

    @override
    async def get(self, key: str) -> bytes:
        check_key(self._url, key)
        blob = self._bucket.blob(self._full_key(key))
        data = await self._call(
            "get", key, blob.download_as_bytes, retry=self._retry, timeout=self._timeout
        )
        return bytes(data)

    @override
    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        check_key(self._url, key)
        # Ranged reads pinned to one generation: a put meanwhile cannot mix two versions, it
        # makes the stream fail with ObjectNotFound instead.
        head = await self._call("get_stream", key, self._get_blob, key, "get_stream")
        size = int(head.size or 0)
        pinned = self._bucket.blob(self._full_key(key), generation=head.generation)
        for start in range(0, size, STREAM_CHUNK_SIZE):
            end = min(start + STREAM_CHUNK_SIZE, size) - 1  # inclusive, as GCS counts
            chunk = await self._call(
                "get_stream",
                key,
                pinned.download_as_bytes,
                start=start,
                end=end,
                retry=self._retry,
                timeout=self._timeout,
            )
            yield bytes(chunk)

    @override
    async def get_to_file(self, key: str, path: PathArg) -> ObjectInfo:
        check_key(self._url, key)
        destination = check_destination(path)

        def download() -> Any:
            head = self._get_blob(key, "get_to_file")
            # The head's blob names its generation, so the download reads exactly that version.
            with atomic_output(destination) as target:
                head.download_to_file(target, retry=self._retry, timeout=self._timeout)
            return head

        return self._info(key, await self._call("get_to_file", key, download))

    @override
    async def get_range(self, key: str, start: int, end_exclusive: int) -> bytes:
        check_key(self._url, key)
        check_range(start, end_exclusive)
        if start == end_exclusive:
            await self.head(key)  # an empty range of a missing object is still missing
            return b""

        def read() -> bytes:
            blob = self._bucket.blob(self._full_key(key))
            try:
                data = blob.download_as_bytes(
                    start=start, end=end_exclusive - 1, retry=self._retry, timeout=self._timeout
                )
            except api_exceptions.RequestRangeNotSatisfiable:
                return b""  # 416: the object ends at or before `start`; a slice there is empty
            return bytes(data)

        return await self._call("get_range", key, read)

    @override
    async def head(self, key: str) -> ObjectInfo:
        check_key(self._url, key)
        return self._info(key, await self._call("head", key, self._get_blob, key, "head"))

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
        try:
            await self._call(
                "delete",
                key,
                self._bucket.blob(self._full_key(key)).delete,
                retry=self._retry,
                timeout=self._timeout,
            )
        except ObjectNotFound:
            return  # already gone: delete is idempotent

    @override
    async def list(
        self, prefix: str = "", start_after: str | None = None, limit: int | None = None
    ) -> AsyncIterator[ObjectInfo]:
        check_prefix(self._url, prefix)
        check_limit(limit)
        if limit == 0:
            return
        # GCS's start_offset is inclusive; one extra item covers skipping start_after itself.
        full_start = self._full_key(start_after) if start_after else None
        page_size = _LIST_PAGE if limit is None else min(_LIST_PAGE, limit + 1)
        listing = self._client.list_blobs(
            self._bucket,
            prefix=self._full_prefix(prefix),
            start_offset=full_start,
            page_size=page_size,
            retry=self._retry,
            timeout=self._timeout,
        )
        pages = iter(listing.pages)
        remaining = limit
        while True:
            # Each `next` fetches one page over the network: keep it off the event loop.
            page = await self._call("list", None, next, pages, None)
            if page is None:
                return
            for blob in page:
                if blob.name == full_start:
                    continue
                yield self._info(self._relative(blob.name), blob)
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return

    # --- helpers ----------------------------------------------------------------------------

    def _full_key(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    def _full_prefix(self, prefix: str) -> str:
        return f"{self._prefix}/{prefix}" if self._prefix else prefix

    def _relative(self, full_key: str) -> str:
        return full_key[len(self._prefix) + 1 :] if self._prefix else full_key

    def _generation(self, key: str, version: str) -> int:
        if not version.isdigit():
            raise PreconditionFailed(
                self._url, key, "put", f"expected a GCS generation (digits), got {version!r}"
            )
        return int(version)

    def _new_blob(self, key: str, sha256: str) -> Any:
        blob = self._bucket.blob(self._full_key(key), kms_key_name=self._kms_key_name)
        blob.metadata = {SHA256_METADATA: sha256}
        return blob

    def _upload(
        self,
        key: str,
        data: bytes,
        content_type: str | None,
        if_generation_match: int | None,
        storage_class: str | None,
    ) -> Any:
        blob = self._new_blob(key, hashlib.sha256(data).hexdigest())
        if storage_class is not None:
            blob.storage_class = storage_class  # sent with the upload's metadata
        blob.upload_from_string(
            data,
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            if_generation_match=if_generation_match,
            retry=self._retry,
            timeout=self._timeout,
        )
        return blob

    def _get_blob(self, key: str, operation: str) -> Any:
        blob = self._bucket.get_blob(self._full_key(key), retry=self._retry, timeout=self._timeout)
        if blob is None:
            raise ObjectNotFound(self._url, key, operation, "expected an object, got none")
        return blob

    def _info(self, key: str, blob: Any) -> ObjectInfo:
        kms_key = blob.kms_key_name
        return ObjectInfo(
            key=key,
            size=int(blob.size or 0),
            version=str(blob.generation),
            sha256=(blob.metadata or {}).get(SHA256_METADATA),
            content_type=blob.content_type,
            last_modified=blob.updated,
            sse="cloud-kms" if kms_key else "google-managed",
            kms_key=kms_key,
        )

    async def _call(
        self, operation: str, key: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """Run a blocking client call in a thread; provider errors become the store's errors."""
        return await run_gcs_call(self._url, operation, key, fn, *args, **kwargs)
