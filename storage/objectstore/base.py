"""The one interface every object store backend implements, declared once (S3, GCS, local FS).

Semantics every backend shares, checked by `tests/integration/test_objectstore_conformance.py`:

- Keys are relative to the store's prefix (`s3://bucket/prefix`), UTF-8, and follow `check_key`.
  Portable key sets never use one key as the "directory" of another (`a` and `a/b`): S3 and GCS
  can hold both, the local FS cannot (its put raises ObjectStoreError naming the clash).
- `put` replaces atomically: a reader sees the old object or the new one, never a mix.
- `put_if_absent` creates only when no object exists; of concurrent callers exactly one wins.
- `put(..., if_match=version)` replaces only the version named (compare-and-swap).
- `get_range(key, start, end)` equals `get(key)[start:end]`: a range reaching past the end is
  clipped, one starting at or past the end is empty (Python slice semantics).
- `delete` of a missing key succeeds.
- `list` yields keys in lexicographic (UTF-8 byte) order, strictly after `start_after`, and pages
  through the provider's listing itself.
- Errors are `storage.objectstore.errors` classes; an `AsyncIterator` reports errors from its first
  `__anext__`.
- `put` and `put_if_absent` take the provider's storage class (`storage_class`: S3
  `StorageClass`, GCS the blob's class); None keeps the bucket's default, the local FS ignores it.
  A read of an S3 object in an archive class that has no restored copy raises ObjectArchived;
  `restore` asks for a copy and `restore_status` follows it. GCS (ARCHIVE included) and the local
  FS read every object directly: their `restore` and `restore_status` raise RestoreNotSupported.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from storage.objectstore.errors import InvalidKey

DEFAULT_CONTENT_TYPE = "application/octet-stream"
# User metadata name under which every put records the SHA-256 (hex) of the bytes it stored.
SHA256_METADATA = "sha256"
# Size of the pieces streaming reads hand out and streaming writes read from a file.
STREAM_CHUNK_SIZE = 4 * 1024 * 1024
# S3's limit on a full key; the smallest of the three backends', so it binds them all.
MAX_KEY_BYTES = 1024
# Segments starting with this are reserved for a backend's own files (local FS temp and lock).
RESERVED_SEGMENT_PREFIX = ".geoledger-"

PathArg = str | os.PathLike[str]


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object.

    `version` changes whenever the object is replaced and is what `put(if_match=...)` takes: the
    ETag on S3, the generation on GCS, the SHA-256 (or an inode/mtime token) on the local FS.
    `sha256` is the hex digest recorded by our own put, None for objects written by others (and in
    S3 listings, which carry no metadata). `sse` names the server-side encryption in force
    (`AES256`, `aws:kms`, `google-managed`, `cloud-kms`), None where there is none (local FS).
    `last_modified` is None where the provider's answer does not carry it (S3's put).
    """

    key: str
    size: int
    version: str
    sha256: str | None = None
    content_type: str | None = None
    last_modified: datetime | None = None
    sse: str | None = None
    kms_key: str | None = None


class RestoreStatus(StrEnum):
    """Where an object stands on the way from its archive class to a readable copy."""

    READABLE = "readable"  # not in an archive class: a GET reads it
    ARCHIVED = "archived"  # archived, no restore asked for (or the restored copy expired)
    RESTORING = "restoring"  # a restore is under way
    RESTORED = "restored"  # a restored copy is there: a GET reads it until the copy expires


@dataclass(frozen=True)
class TransportPolicy:
    """Timeouts and retries of the network backends. The defaults suit production; tests that
    provoke an unreachable endpoint shorten them."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    # S3: total attempts per request (botocore "standard" retry mode).
    max_attempts: int = 5
    # GCS: time budget for retrying one request (google.api_core Retry timeout).
    retry_deadline_s: float = 60.0
    # S3 managed transfers: part size and parallel parts; memory is about their product.
    multipart_chunk_bytes: int = 8 * 1024 * 1024
    multipart_concurrency: int = 4


@runtime_checkable
class ObjectStore(Protocol):
    """An object store rooted at a bucket and prefix. All methods are safe to call concurrently."""

    def describe(self) -> str:
        """The store's URL, e.g. `s3://bucket/prefix`; errors name the store by it."""
        ...

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        if_match: str | None = None,
        storage_class: str | None = None,
    ) -> ObjectInfo:
        """Store `data` under `key`, replacing any object there, in `storage_class` (None: the
        bucket's default).

        With `if_match`, replace only the object whose `ObjectInfo.version` it is; raises
        PreconditionFailed when another version (or no object) is there.
        """
        ...

    async def put_if_absent(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        storage_class: str | None = None,
    ) -> bool:
        """Create `key` (in `storage_class`, None: the bucket's default) only if no object
        exists: True when this call created it, False when an object was already there (left
        untouched).

        After a transport-level retry, False may describe an object this very call created (its
        first attempt landed, the answer was lost); callers comparing the stored bytes with their
        own, as content-addressed writers do, are unaffected.
        """
        ...

    async def put_file(
        self, key: str, path: PathArg, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Upload the file at `path`, streaming it (S3 multipart, GCS resumable): memory stays
        bounded by the part size, not the file size."""
        ...

    async def get(self, key: str) -> bytes:
        """The whole object. Raises ObjectNotFound; ObjectArchived (every read does) when it is
        archived and not restored."""
        ...

    def get_stream(self, key: str) -> AsyncIterator[bytes]:
        """The object as chunks of at most STREAM_CHUNK_SIZE bytes, from one consistent version.
        Raises ObjectNotFound (on the first iteration)."""
        ...

    async def get_to_file(self, key: str, path: PathArg) -> ObjectInfo:
        """Download into `path` (written beside it, fsync'd, then renamed over it), streaming.
        Raises ObjectNotFound and leaves `path` untouched then."""
        ...

    async def get_range(self, key: str, start: int, end_exclusive: int) -> bytes:
        """`get(key)[start:end_exclusive]` without reading the rest.

        Requires 0 <= start <= end_exclusive (ValueError otherwise). Raises ObjectNotFound.
        """
        ...

    async def head(self, key: str) -> ObjectInfo:
        """The object's metadata. Raises ObjectNotFound."""
        ...

    async def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        ...

    def list(
        self, prefix: str = "", start_after: str | None = None, limit: int | None = None
    ) -> AsyncIterator[ObjectInfo]:
        """Objects whose keys start with `prefix` and sort strictly after `start_after`, in
        lexicographic order, at most `limit` of them (all when None)."""
        ...

    async def restore(self, key: str, days: int) -> None:
        """Ask for a readable copy of the archived object `key`, kept `days` days; a restore
        already under way or done is not an error. Raises ObjectNotFound, RestoreNotSupported
        (a backend without archives)."""
        ...

    async def restore_status(self, key: str) -> RestoreStatus:
        """Whether `key` reads directly, is archived, being restored or restored. Raises
        ObjectNotFound, RestoreNotSupported (a backend without archives)."""
        ...


def check_key(store: str, key: str) -> str:
    """Reject keys that some backend could not store faithfully, the same way on all of them.

    A key is 1..MAX_KEY_BYTES bytes of UTF-8, made of non-empty `/`-separated segments, none of
    them `.` or `..` or starting with RESERVED_SEGMENT_PREFIX, without control characters.
    """
    problem = _key_problem(key)
    if problem:
        raise InvalidKey(store, key, "check key", problem)
    return key


def check_prefix(store: str, prefix: str) -> str:
    """A listing prefix: empty, or a key's beginning (it may end with `/`)."""
    if prefix == "":
        return prefix
    # Ending in "/", every segment is whole; otherwise the last may be the start of one.
    ends_whole = prefix.endswith("/")
    problem = _key_problem(prefix.removesuffix("/"), partial=not ends_whole)
    if problem:
        raise InvalidKey(store, prefix, "check prefix", problem)
    return prefix


def check_range(start: int, end_exclusive: int) -> None:
    """Raise ValueError unless 0 <= start <= end_exclusive."""
    if start < 0 or end_exclusive < start:
        raise ValueError(
            "expected 0 <= start <= end_exclusive, "
            f"got start={start}, end_exclusive={end_exclusive}"
        )


def check_limit(limit: int | None) -> None:
    """Raise ValueError unless `limit` is None or >= 0."""
    if limit is not None and limit < 0:
        raise ValueError(f"expected limit >= 0 or None, got {limit}")


def _key_problem(key: str, partial: bool = False) -> str | None:
    if not key:
        return "expected a non-empty key, got ''"
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        return "expected valid UTF-8 text, got a lone surrogate"
    if len(encoded) > MAX_KEY_BYTES:
        return f"expected at most {MAX_KEY_BYTES} bytes of UTF-8, got {len(encoded)}"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        return "expected no control characters, got one"
    segments = key.split("/")
    # A prefix may stop inside its last segment, so "." there is the start of ".name".
    whole_segments = segments[:-1] if partial else segments
    for segment in whole_segments:
        if segment in (".", ".."):
            return f"expected no '.' or '..' segments, got {segment!r}"
    for segment in segments:
        if segment == "":
            return "expected non-empty segments between '/', got an empty one"
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            return f"segments starting {RESERVED_SEGMENT_PREFIX!r} are reserved, got {segment!r}"
    return None
