"""The local file-system backend (`file:///root`): one file per object under the root directory.

Every write goes to a temporary file in the target's directory, is fsync'd, then renamed into
place (or hard-linked, for create-if-absent) and the directory fsync'd, so a crash leaves the old
object or the whole new one. SHA-256 and content type live in `user.` extended attributes set on
the temporary file before it is renamed, so they change atomically with the bytes; on a file system
without them they are simply absent.

Limits of the mapping, which the other backends do not share: a key cannot be both an object and
a "directory" of others (`a` and `a/b`), and directories emptied by deletes are left in place.
A missing root directory (an unmounted volume) makes every operation raise Unavailable: the store
never creates its own root.
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import fcntl
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar

from typing_extensions import override

from storage.objectstore.base import (
    DEFAULT_CONTENT_TYPE,
    RESERVED_SEGMENT_PREFIX,
    STREAM_CHUNK_SIZE,
    ObjectInfo,
    ObjectStore,
    PathArg,
    check_key,
    check_limit,
    check_prefix,
    check_range,
)
from storage.objectstore.errors import (
    AccessDenied,
    ObjectNotFound,
    ObjectStoreError,
    PreconditionFailed,
    Unavailable,
)
from storage.objectstore.files import (
    atomic_output,
    check_destination,
    fsync_directory,
    temporary_path,
)
from storage.objectstore.local_listing import list_batch
from storage.objectstore.no_archives import WithoutArchives

_SHA256_XATTR = "user.geoledger.sha256"
_CONTENT_TYPE_XATTR = "user.geoledger.content_type"
# Conditional writes take it exclusively, every other write shared: compare-then-replace is then
# atomic against all writers of this root on this host (flock is per open file, so threads too).
_LOCK_NAME = f"{RESERVED_SEGMENT_PREFIX}lock"
_LIST_BATCH = 1000
_NO_XATTRS = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA}
# Operations for which a missing file means a missing object.
_READS = frozenset({"get", "get_stream", "get_to_file", "get_range", "head"})

T = TypeVar("T")
_Commit = Literal["replace", "link", "if_match"]


class LocalObjectStore(WithoutArchives, ObjectStore):
    """Objects as files under `root`, which must exist."""

    def __init__(self, root: PathArg) -> None:
        self._root = Path(root)
        if not self._root.is_absolute():
            raise ValueError(f"expected an absolute root directory, got {str(root)!r}")

    @override
    def describe(self) -> str:
        return f"file://{self._root}"

    @override
    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        if_match: str | None = None,
        storage_class: str | None = None,  # the local FS has one class
    ) -> ObjectInfo:
        check_key(self.describe(), key)
        commit: _Commit = "replace" if if_match is None else "if_match"
        info = await self._run("put", key, self._write, key, [data], content_type, commit, if_match)
        assert info is not None  # only "link" commits report "already there"
        return info

    @override
    async def put_if_absent(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        storage_class: str | None = None,  # the local FS has one class
    ) -> bool:
        check_key(self.describe(), key)
        info = await self._run(
            "put_if_absent", key, self._write, key, [data], content_type, "link", None
        )
        return info is not None

    @override
    async def put_file(
        self, key: str, path: PathArg, *, content_type: str | None = None
    ) -> ObjectInfo:
        check_key(self.describe(), key)
        # The source is the caller's file: its errors are theirs, not the store's.
        source = await asyncio.to_thread(Path(path).open, "rb")
        try:
            info = await self._run(
                "put_file", key, self._write, key, _chunks(source), content_type, "replace", None
            )
        finally:
            await asyncio.to_thread(source.close)
        assert info is not None
        return info

    @override
    async def get(self, key: str) -> bytes:
        check_key(self.describe(), key)
        return await self._run("get", key, self._read_all, key)

    @override
    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        check_key(self.describe(), key)
        # The open descriptor pins this version even if a put renames another over it.
        source = await self._run("get_stream", key, self._open, key)
        try:
            while chunk := await self._run("get_stream", key, source.read, STREAM_CHUNK_SIZE):
                yield chunk
        finally:
            await asyncio.to_thread(source.close)

    @override
    async def get_to_file(self, key: str, path: PathArg) -> ObjectInfo:
        check_key(self.describe(), key)
        destination = check_destination(path)

        def copy() -> ObjectInfo:
            with self._open(key) as source:
                info = self._info(key, source.fileno())
                with atomic_output(destination) as target:
                    for chunk in _chunks(source):
                        target.write(chunk)
            return info

        return await self._run("get_to_file", key, copy)

    @override
    async def get_range(self, key: str, start: int, end_exclusive: int) -> bytes:
        check_key(self.describe(), key)
        check_range(start, end_exclusive)

        def read_range() -> bytes:
            with self._open(key) as source:
                return os.pread(source.fileno(), end_exclusive - start, start)

        return await self._run("get_range", key, read_range)

    @override
    async def head(self, key: str) -> ObjectInfo:
        check_key(self.describe(), key)
        return await self._run("head", key, self._head, key)

    @override
    async def exists(self, key: str) -> bool:
        try:
            await self.head(key)
        except ObjectNotFound:
            return False
        return True

    @override
    async def delete(self, key: str) -> None:
        check_key(self.describe(), key)
        await self._run("delete", key, self._delete, key)

    @override
    async def list(
        self, prefix: str = "", start_after: str | None = None, limit: int | None = None
    ) -> AsyncIterator[ObjectInfo]:
        check_prefix(self.describe(), prefix)
        check_limit(limit)
        remaining = limit
        cursor = start_after
        while remaining is None or remaining > 0:
            batch_size = _LIST_BATCH if remaining is None else min(_LIST_BATCH, remaining)
            batch = await self._run(
                "list", None, list_batch, self._root, prefix, cursor, batch_size, self._head
            )
            for info in batch:
                yield info
            if len(batch) < batch_size:
                return
            cursor = batch[-1].key
            if remaining is not None:
                remaining -= len(batch)

    # --- the blocking work, run in a thread ---------------------------------------------------

    async def _run(self, operation: str, key: str | None, fn: Callable[..., T], *args: object) -> T:
        """Run blocking file work in a thread, turning OSError into the store's errors."""
        try:
            return await asyncio.to_thread(self._guarded, fn, *args)
        except OSError as exc:
            raise self._translate(operation, key, exc) from exc

    def _guarded(self, fn: Callable[..., T], *args: object) -> T:
        # A missing root is an unmounted or deleted volume, not a missing object.
        if not self._root.is_dir():
            raise _RootMissing
        return fn(*args)

    def _translate(self, operation: str, key: str | None, exc: OSError) -> ObjectStoreError:
        store = self.describe()
        if isinstance(exc, _RootMissing):
            return Unavailable(
                store, key, operation, f"expected root directory {self._root} to exist, got none"
            )
        not_an_object = isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError)
        if operation in _READS and (not_an_object or exc.errno == errno.ELOOP):
            return ObjectNotFound(store, key, operation, "expected an object, got none")
        if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
            return AccessDenied(store, key, operation, f"the file system refused: {exc}")
        if isinstance(exc, NotADirectoryError | FileExistsError | IsADirectoryError):
            return ObjectStoreError(
                store, key, operation,
                f"a local store cannot hold a key and keys below it at once: {exc}",
            )  # fmt: skip
        return ObjectStoreError(store, key, operation, str(exc))

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*key.split("/"))

    def _open(self, key: str) -> BinaryIO:
        return os.fdopen(self._open_fd(key), "rb")

    def _open_fd(self, key: str) -> int:
        # Symbolic links are not objects (list skips them): never follow one out of the root.
        return os.open(self._path(key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def _read_all(self, key: str) -> bytes:
        with self._open(key) as source:
            return source.read()

    def _head(self, key: str) -> ObjectInfo:
        fd = self._open_fd(key)
        try:
            return self._info(key, fd)
        finally:
            os.close(fd)

    def _info(self, key: str, fd: int) -> ObjectInfo:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise FileNotFoundError(errno.ENOENT, "not a regular file", str(self._path(key)))
        sha256 = _get_xattr(fd, _SHA256_XATTR)
        return ObjectInfo(
            key=key,
            size=status.st_size,
            version=sha256 or _inode_version(status),
            sha256=sha256,
            content_type=_get_xattr(fd, _CONTENT_TYPE_XATTR) or DEFAULT_CONTENT_TYPE,
            last_modified=datetime.fromtimestamp(status.st_mtime_ns / 1e9, UTC),
        )

    def _write(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str | None,
        commit: _Commit,
        if_match: str | None,
    ) -> ObjectInfo | None:
        """Write `chunks` as `key`; None when a "link" commit found an object already there."""
        target = self._path(key)
        _make_directories(self._root, target.parent)
        with self._lock(exclusive=commit == "if_match"):
            staged = temporary_path(target.parent)
            try:
                # 1. The bytes and their attributes, durable before any name points at them.
                with staged.open("xb") as handle:
                    digest = hashlib.sha256()
                    for chunk in chunks:
                        digest.update(chunk)
                        handle.write(chunk)
                    handle.flush()
                    _set_xattr(handle.fileno(), _SHA256_XATTR, digest.hexdigest())
                    _set_xattr(
                        handle.fileno(), _CONTENT_TYPE_XATTR, content_type or DEFAULT_CONTENT_TYPE
                    )
                    os.fsync(handle.fileno())
                    info = self._info(key, handle.fileno())
                # 2. The name: a rename replaces atomically, a link creates only if absent.
                if commit == "link":
                    try:
                        os.link(staged, target)
                    except FileExistsError:
                        return None
                else:
                    if commit == "if_match":
                        self._check_version(key, target, if_match)
                    os.replace(staged, target)
            finally:
                staged.unlink(missing_ok=True)
            # 3. The directory entry itself, so the new name survives a crash.
            fsync_directory(target.parent)
        return info

    def _check_version(self, key: str, target: Path, expected: str | None) -> None:
        try:
            current = self._head(key).version
        except (FileNotFoundError, IsADirectoryError):
            current = None
        if current != expected:
            got = "no object" if current is None else f"version {current!r}"
            raise PreconditionFailed(
                self.describe(), key, "put", f"expected version {expected!r}, got {got}"
            )

    def _delete(self, key: str) -> None:
        target = self._path(key)
        with self._lock(exclusive=False):
            try:
                target.unlink()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return
            fsync_directory(target.parent)

    @contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        fd = os.open(self._root / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing the last descriptor releases the lock


class _RootMissing(OSError):
    pass


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(STREAM_CHUNK_SIZE):
        yield chunk


def _make_directories(root: Path, directory: Path) -> None:
    """Create `directory` below `root`, each new entry fsync'd into its parent."""
    missing: builtins.list[Path] = []
    for path in [directory, *directory.parents]:
        if path == root or path.is_dir():
            break
        missing.append(path)
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        fsync_directory(path.parent)


def _inode_version(status: os.stat_result) -> str:
    return f"{status.st_ino:x}-{status.st_mtime_ns:x}-{status.st_size:x}"


def _get_xattr(fd: int, name: str) -> str | None:
    try:
        return os.getxattr(fd, name).decode("utf-8")
    except OSError as exc:
        if exc.errno in _NO_XATTRS:
            return None
        raise


def _set_xattr(fd: int, name: str, value: str) -> None:
    try:
        os.setxattr(fd, name, value.encode("utf-8"))
    except OSError as exc:
        if exc.errno not in _NO_XATTRS:
            raise
