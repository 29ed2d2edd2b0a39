"""Local files the backends share: writing one so that a crash leaves either the old file or the
whole new one (the local FS backend's objects, every backend's `get_to_file`), and hashing one."""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from storage.objectstore.base import RESERVED_SEGMENT_PREFIX, STREAM_CHUNK_SIZE, PathArg

TEMPORARY_PREFIX = f"{RESERVED_SEGMENT_PREFIX}tmp-"


def temporary_path(directory: Path) -> Path:
    """A fresh name in `directory` that no key can take (the prefix is reserved)."""
    return directory / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"


def fsync_directory(directory: Path) -> None:
    """Make the directory's entries (creations, renames, links) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_destination(path: PathArg) -> Path:
    """A download target: its directory must exist (a typo there is the caller's error, raised as
    FileNotFoundError before anything is fetched)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(
            errno.ENOENT, "expected the download's directory to exist, got none", str(target.parent)
        )
    return target


@contextmanager
def atomic_output(target: Path) -> Iterator[BinaryIO]:
    """Yield a file to write `target`'s new content into; when the block ends normally the file
    is fsync'd, renamed over `target` and the directory fsync'd. Requires target's directory to
    exist. On error `target` is untouched and the partial file removed."""
    path = temporary_path(target.parent)
    try:
        with path.open("xb") as handle:
            yield handle
            # Data first, then the name: a crash after the rename must not expose a short file.
            handle.flush()
            os.fsync(handle.fileno())
        path.replace(target)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def file_sha256(path: PathArg) -> str:
    """SHA-256 (hex) of a file, read in chunks so memory stays bounded."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as source:
        while chunk := source.read(STREAM_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
