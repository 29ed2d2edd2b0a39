"""The durable checkpoint of a stream's WAL directory (`checkpoint.json`).

It says what a writer's start and every reader may take without reading segments:

- `first_retained_seq`: segments below it were pruned after shipping (`prune.py`); a segment
  file still there below it is left over from a prune that crashed before deleting it, and is
  ignored by everyone until the next prune deletes it.
- `sealed_through_seq`: the last seq of a sealed segment the writer has verified (it wrote it, or
  read it at start); start reads only what comes after it. Always >= first_retained_seq - 1.
- `shipped_through_seq` / `manifest_sha256`: the manifest chain head when the last prune ran:
  the newest manifest committed in every ship target and the SHA-256 of its bytes.
- `pruned_sealed_at_ms`: when the newest pruned segment was sealed; every pruned record was
  accepted before it (the lag monitor's bound for records no longer held here).

Two processes write it: the node's writer (`sealed_through_seq`) and the node's CRR worker when
it prunes (the rest). Each write is a read-modify-write under `checkpoint.lock` (`flock`), merges
field by field so that no value ever goes back, and replaces the file atomically (temp file,
fsync, rename, directory fsync). Readers take no lock: the rename makes every read see one
complete version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from storage.wal.directory import write_file_atomically
from storage.wal.errors import WalCorruptionError
from storage.wal.naming import CHECKPOINT_FILE_NAME, CHECKPOINT_LOCK_NAME

FORMAT_VERSION = 1
_SHA256_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class WalCheckpoint:
    """A directory without a checkpoint file reads as the default: nothing pruned, nothing
    verified."""

    first_retained_seq: int = 1
    sealed_through_seq: int = 0
    shipped_through_seq: int = 0
    manifest_sha256: str = ""
    pruned_sealed_at_ms: int = 0

    def merged(self, other: WalCheckpoint) -> WalCheckpoint:
        """Field-wise the newer of the two, so concurrent or replayed updates never move a value
        back. The chain head goes with its seq."""
        head = max(
            (self.shipped_through_seq, self.manifest_sha256),
            (other.shipped_through_seq, other.manifest_sha256),
        )
        return WalCheckpoint(
            first_retained_seq=max(self.first_retained_seq, other.first_retained_seq),
            sealed_through_seq=max(self.sealed_through_seq, other.sealed_through_seq),
            shipped_through_seq=head[0],
            manifest_sha256=head[1],
            pruned_sealed_at_ms=max(self.pruned_sealed_at_ms, other.pruned_sealed_at_ms),
        )

    def problem(self) -> str | None:
        """Why these values cannot describe a directory, or None."""
        if self.first_retained_seq < 1:
            return f"expected first_retained_seq >= 1, got {self.first_retained_seq}"
        if self.sealed_through_seq < self.first_retained_seq - 1:
            return (
                f"expected sealed_through_seq >= first_retained_seq - 1 "
                f"({self.first_retained_seq - 1}), got {self.sealed_through_seq}: segments were "
                f"pruned that the writer never sealed"
            )
        if self.shipped_through_seq < 0 or self.pruned_sealed_at_ms < 0:
            return "expected shipped_through_seq and pruned_sealed_at_ms >= 0"
        if self.manifest_sha256 and (
            len(self.manifest_sha256) != 64 or not set(self.manifest_sha256) <= _SHA256_HEX
        ):
            return (
                f"expected manifest_sha256 to be 64 lowercase hex digits or empty, "
                f"got {self.manifest_sha256!r}"
            )
        return None

    def encode(self) -> bytes:
        """The bytes of the checkpoint file: versioned JSON, read back by `read_checkpoint`."""
        fields = {"v": FORMAT_VERSION, **dataclasses.asdict(self)}
        return json.dumps(fields, sort_keys=True).encode()


def checkpoint_path(directory: Path) -> Path:
    """Where the checkpoint of the WAL directory `directory` is."""
    return directory / CHECKPOINT_FILE_NAME


def read_checkpoint(directory: Path) -> WalCheckpoint:
    """The checkpoint of `directory`, or the default when it has none.

    Raises WalCorruptionError naming the file when it is not a checkpoint this code wrote.
    """
    path = checkpoint_path(directory)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return WalCheckpoint()
    return _decode(path, data)


def _decode(path: Path, data: bytes) -> WalCheckpoint:
    try:
        fields = json.loads(data)
    except ValueError as exc:
        raise WalCorruptionError(path, None, f"expected checkpoint JSON, got {exc}") from None
    if not isinstance(fields, dict) or fields.get("v") != FORMAT_VERSION:
        raise WalCorruptionError(
            path, None, f"expected a checkpoint object with v={FORMAT_VERSION}, got {data[:80]!r}"
        )
    names = {field.name: field.type for field in dataclasses.fields(WalCheckpoint)}
    values = {key: value for key, value in fields.items() if key != "v"}
    if values.keys() != names.keys():
        raise WalCorruptionError(
            path, None, f"expected checkpoint fields {sorted(names)}, got {sorted(values)}"
        )
    for key, value in values.items():
        wanted = str if key == "manifest_sha256" else int
        if type(value) is not wanted:
            raise WalCorruptionError(
                path, None, f"expected {key} to be {wanted.__name__}, got {value!r}"
            )
    checkpoint = WalCheckpoint(**values)
    problem = checkpoint.problem()
    if problem is not None:
        raise WalCorruptionError(path, None, problem)
    return checkpoint


@contextlib.contextmanager
def checkpoint_lock(directory: Path) -> Iterator[None]:
    """Hold the directory's checkpoint lock (blocking) for a read-modify-write. Held for
    milliseconds: an update is one small file and two fsyncs."""
    fd = os.open(directory / CHECKPOINT_LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the description drops the flock


def write_checkpoint_locked(
    directory: Path, change: WalCheckpoint, fsync: Callable[[int], None]
) -> WalCheckpoint:
    """Merge `change` into the checkpoint and write it durably; return what is now on disk.

    Requires the caller to hold `checkpoint_lock(directory)`. Raises ValueError (nothing written)
    when the merged values are impossible, OSError when the write fails (the old file stands).
    """
    current = read_checkpoint(directory)
    merged = current.merged(change)
    problem = merged.problem()
    if problem is not None:
        raise ValueError(f"refusing to write the checkpoint of {directory}: {problem}")
    if merged != current:
        write_file_atomically(directory, CHECKPOINT_FILE_NAME, merged.encode(), fsync)
    return merged


def update_checkpoint(
    directory: Path, change: WalCheckpoint, fsync: Callable[[int], None]
) -> WalCheckpoint:
    """`write_checkpoint_locked` under the directory's checkpoint lock."""
    with checkpoint_lock(directory):
        return write_checkpoint_locked(directory, change, fsync)
