"""Write-once objects as read-only files under a `file:///root` directory: NOT write-once storage.

Each write creates the file only if absent (LocalObjectStore's create-if-absent: a hard link, so
an existing file is never replaced) and then drops its write bits. That refuses replacement
through this code only: anyone with the directory's write permission (root always) can delete or
replace the file, and no retention date binds anybody. It serves tests and single-machine trials;
`check_bucket` always says it is not WORM. The version is the SHA-256 of the bytes, so a read
notices a file replaced behind our back.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from pathlib import Path

from typing_extensions import override

from storage.objectstore.base import check_key
from storage.objectstore.errors import ObjectNotFound
from storage.objectstore.local import LocalObjectStore
from storage.objectstore.worm import (
    WormReceipt,
    WormStore,
    check_retention_days,
    check_same_bytes,
    retain_until,
)

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class LocalWormStore(WormStore):
    """Read-only files under `root`, created once each; the directory must exist (see
    `ensure_bucket`)."""

    def __init__(self, root: str | os.PathLike[str], *, retention_days: int) -> None:
        self._root = Path(root)
        self._files = LocalObjectStore(self._root)
        self._retention_days = check_retention_days(retention_days)

    @override
    def describe(self) -> str:
        return self._files.describe()

    @override
    async def write_once(self, key: str, data: bytes) -> WormReceipt:
        sha256 = hashlib.sha256(data).hexdigest()
        until = retain_until(self._retention_days)
        if not await self._files.put_if_absent(key, data):
            stored = await self._files.get(key)
            check_same_bytes(
                self.describe(), key, sha256, stored, hashlib.sha256(stored).hexdigest()
            )
        await asyncio.to_thread(self._make_read_only, key)
        return WormReceipt(key, sha256, sha256, until)

    @override
    async def read(self, key: str, version: str) -> bytes:
        data = await self._files.get(key)
        if hashlib.sha256(data).hexdigest() != version:
            raise ObjectNotFound(
                self.describe(), key, "read", f"expected version {version}, got other bytes"
            )
        return data

    @override
    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)

    @override
    async def check_bucket(self) -> list[str]:
        return [
            f"{self.describe()}: a local file system is not write-once storage: read-only files "
            "can still be deleted or replaced by anyone who may write the directory"
        ]

    def _make_read_only(self, key: str) -> None:
        path = self._root.joinpath(*check_key(self.describe(), key).split("/"))
        mode = path.stat().st_mode
        if mode & _WRITE_BITS:
            path.chmod(mode & ~_WRITE_BITS)
