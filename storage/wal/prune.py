"""Deleting shipped segments from a stream's WAL directory, behind the durable checkpoint.

A sealed segment is deleted when all of these hold:
  (a) its manifest is committed in every ship target (its last seq <= `shipped_through_seq`);
  (b) the node's own dedup apply has passed it (last seq <= `applied_through_seq`);
  (c) it was sealed at least `retain_s` ago (its file's mtime: the time of its last write,
      which a rename does not change, and the very value shipping signs into its manifest as
      `sealed_at_ms`; reading it costs a `stat`, not a GET per segment);
  (d) the writer has recorded it in the checkpoint (last seq <= `sealed_through_seq`), so a start
      never needs to read it;
  (e) it is not the newest sealed segment, whose last record seeds the node's clock and whose
      name proves where the next seq starts.
Only a prefix of the retained segments goes, so what stays is gap-free from the new first
retained seq. The checkpoint moves first (written and fsync'd), the files go after it: a crash in
between leaves files below the first retained seq that everyone ignores and the next prune
deletes (crash points `wal.prune.after_checkpoint`, `wal.prune.after_first_delete`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage.faults import crash_point
from storage.wal.checkpoint import WalCheckpoint, checkpoint_lock, write_checkpoint_locked
from storage.wal.directory import fsync_directory
from storage.wal.reader import first_seq_of, scan_stream


@dataclass(frozen=True)
class PruneLimits:
    """What the stores and the dedup store say may go. Requires retain_s >= 0."""

    shipped_through_seq: int
    # SHA-256 of the manifest ending at shipped_through_seq: the chain head the checkpoint keeps.
    manifest_sha256: str
    applied_through_seq: int
    retain_s: float
    # Wall-clock seconds (time.time()) that segment ages are measured against.
    now_s: float


@dataclass(frozen=True)
class PruneResult:
    """What one prune deleted (segments, bytes) and the first seq the directory still holds."""

    segments: int
    bytes: int
    first_retained_seq: int


def prune_shipped(
    directory: Path, limits: PruneLimits, fsync: Callable[[int], None] = os.fsync
) -> PruneResult:
    """Delete the oldest sealed segments of `directory` that `limits` and the rules above allow,
    and whatever an interrupted prune left behind; return what went.

    Holds the checkpoint lock throughout, so two prunes (or a prune and the writer's checkpoint
    update) never interleave. Raises WalCorruptionError when the directory's layout is damaged
    (nothing is deleted then), OSError when a write or delete fails.
    """
    if limits.retain_s < 0:
        raise ValueError(f"expected retain_s >= 0, got {limits.retain_s}")
    with checkpoint_lock(directory):
        layout = scan_stream(directory)
        checkpoint = layout.checkpoint
        sealed = layout.sealed
        through = min(
            limits.shipped_through_seq, limits.applied_through_seq, checkpoint.sealed_through_seq
        )
        sealed_before = limits.now_s - limits.retain_s
        doomed: list[str] = []
        first_retained, newest_doomed_mtime = checkpoint.first_retained_seq, 0.0
        # Each candidate's last seq is the next segment's first seq - 1 (never the newest).
        for name, next_name in itertools.pairwise(sealed):
            next_first = first_seq_of(next_name)
            mtime = (directory / name).stat().st_mtime
            if next_first - 1 > through or mtime > sealed_before:
                break
            doomed.append(name)
            newest_doomed_mtime = max(newest_doomed_mtime, mtime)
            first_retained = next_first
        if doomed:
            # Durable before any deletion: a start must never look for what is about to go.
            checkpoint = write_checkpoint_locked(
                directory,
                WalCheckpoint(
                    first_retained_seq=first_retained,
                    shipped_through_seq=limits.shipped_through_seq,
                    manifest_sha256=limits.manifest_sha256,
                    pruned_sealed_at_ms=int(newest_doomed_mtime * 1000),
                ),
                fsync,
            )
            crash_point("wal.prune.after_checkpoint")
        deleted_bytes = _delete(directory, [*layout.leftovers, *doomed])
        if layout.leftovers or doomed:
            fsync_directory(directory, fsync)
        return PruneResult(
            len(layout.leftovers) + len(doomed), deleted_bytes, checkpoint.first_retained_seq
        )


def _delete(directory: Path, names: list[str]) -> int:
    """Unlink `names` (already gone counts as deleted); return their bytes."""
    deleted_bytes = 0
    for index, name in enumerate(names):
        path = directory / name
        with contextlib.suppress(FileNotFoundError):
            deleted_bytes += path.stat().st_size
            path.unlink()
        if index == 0:
            crash_point("wal.prune.after_first_delete")
    return deleted_bytes
