"""Listing a local store's keys in byte order, as every backend lists them.

A key is a file's path below the root with `/` separators. A directory sorts as its name plus
"/": every key below it starts with that, so walking each directory's entries in that order
yields all keys in global lexicographic order without reading the whole tree first. Reserved
names (temporary files, the lock), symbolic links and names that are not UTF-8 are not keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from storage.objectstore.base import RESERVED_SEGMENT_PREFIX, ObjectInfo


def list_batch(
    root: Path,
    prefix: str,
    start_after: str | None,
    count: int,
    head: Callable[[str], ObjectInfo],
) -> list[ObjectInfo]:
    """Up to `count` objects under `root` whose keys start with `prefix` and sort after
    `start_after`, in key order, each described by `head` (blocking file work)."""
    # Start in the deepest directory the prefix names; keys elsewhere cannot match it.
    parent, slash, _ = prefix.rpartition("/")
    directory, relative = (root / parent, parent + slash) if slash else (root, "")
    found: list[ObjectInfo] = []
    _walk(directory, relative, prefix, start_after, count, found, head)
    return found


def _walk(
    directory: Path,
    relative: str,
    prefix: str,
    start_after: str | None,
    count: int,
    found: list[ObjectInfo],
    head: Callable[[str], ObjectInfo],
) -> bool:
    """Append keys under `directory` in byte order to `found`; True once `count` are there."""
    try:
        scanned = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return False
    entries: list[tuple[str, os.DirEntry[str]]] = []
    for entry in scanned:
        if entry.name.startswith(RESERVED_SEGMENT_PREFIX) or not _is_text(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            entries.append((entry.name + "/", entry))
        elif entry.is_file(follow_symlinks=False):
            entries.append((entry.name, entry))
    entries.sort(key=lambda item: item[0])
    for name, entry in entries:
        key = relative + name
        if name.endswith("/"):
            if not (key.startswith(prefix) or prefix.startswith(key)):
                continue
            if _subtree_before(key, start_after):
                continue
            if _walk(Path(entry.path), key, prefix, start_after, count, found, head):
                return True
            continue
        if not key.startswith(prefix) or (start_after is not None and key <= start_after):
            continue
        try:
            found.append(head(key))
        except FileNotFoundError:
            continue  # deleted while we walked
        if len(found) >= count:
            return True
    return False


def _subtree_before(directory_key: str, start_after: str | None) -> bool:
    """True when every key starting with `directory_key` sorts at or before `start_after`: they
    all differ from it inside `directory_key` unless `start_after` itself starts with it."""
    if start_after is None:
        return False
    return directory_key < start_after and not start_after.startswith(directory_key)


def _is_text(name: str) -> bool:
    # Names that are not UTF-8 arrive with surrogate escapes; they cannot be keys.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
