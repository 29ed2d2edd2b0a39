"""Creating a stream's directory durably and binding it to its stream name."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from storage.wal.errors import WalStreamMismatchError
from storage.wal.naming import STREAM_FILE_NAME


def fsync_directory(directory: Path, fsync: Callable[[int], None]) -> None:
    """Make the directory's entries (creations, renames) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def make_directory(directory: Path, fsync: Callable[[int], None]) -> None:
    """Create `directory` and its missing parents, each entry fsync'd into its parent, so a crash
    cannot lose the directory after records in it were acknowledged."""
    missing: list[Path] = []
    for path in [directory, *directory.parents]:
        if path.is_dir():
            break
        missing.append(path)
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        fsync_directory(path.parent, fsync)


def claim_stream(directory: Path, stream: str, fsync: Callable[[int], None]) -> None:
    """Record `stream` as the owner of `directory`, or check that it already is.

    Raises WalStreamMismatchError when the directory holds another stream's segments (two nodes
    configured with one directory would otherwise interleave two seq spaces).
    """
    path = directory / STREAM_FILE_NAME
    try:
        found = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        found = None
    if found is not None:
        if found != stream:
            raise WalStreamMismatchError(directory, stream, found)
        return
    write_file_atomically(directory, STREAM_FILE_NAME, f"{stream}\n".encode(), fsync)


def write_file_atomically(
    directory: Path, name: str, data: bytes, fsync: Callable[[int], None]
) -> None:
    """Replace `directory/name` with `data` so that a crash leaves the old content or the new
    one, never a mix: temp file, fsync, rename over the name, directory fsync. Raises OSError
    (the old content then stands). Callers that race on `name` must serialise (a lock)."""
    temporary = directory / f"{name}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, directory / name)
    fsync_directory(directory, fsync)
