"""How a writer keeps the checkpoint's sealed-through seq close behind its seals.

A start reads only the sealed segments after the checkpoint's `sealed_through_seq`
(`recovery.py`), and a prune deletes only what the checkpoint covers (`prune.py`), so the writer
records its seals there: after CHECKPOINT_EVERY_SEALS seals or CHECKPOINT_EVERY_BYTES sealed
bytes, after IDLE_CHECKPOINT_S with seals it does not cover, and at close. Each update costs two
fsyncs (the file and the directory), so it runs in a task beside the committer, never in the way
of appends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from storage.wal.checkpoint import WalCheckpoint, update_checkpoint

log = logging.getLogger(__name__)

# A start reads at most about this much beyond the checkpoint, and the checkpoint's fsyncs are
# paid once per this many seals rather than on every seal.
CHECKPOINT_EVERY_SEALS = 16
CHECKPOINT_EVERY_BYTES = 64 << 20
# ... and once the stream has been idle this long with seals the checkpoint does not cover, so a
# stream that stops does not keep them unprunable.
IDLE_CHECKPOINT_S = 1.0


class SealCheckpointer:
    """The sealed-through part of one stream's checkpoint, owned by its writer."""

    def __init__(
        self,
        directory: Path,
        stream: str,
        fsync: Callable[[int], None],
        sealed_through: int,
        checkpointed_through: int,
    ) -> None:
        """`sealed_through` is the newest sealed seq at open, `checkpointed_through` what the
        checkpoint says of it."""
        self._directory = directory
        self._stream = stream
        self._fsync = fsync
        self._sealed_through = sealed_through
        self._checkpointed_through = checkpointed_through
        self._seals_since = self._bytes_since = 0
        self._task: asyncio.Task[None] | None = None
        self.updates = 0

    @property
    def behind(self) -> bool:
        """Whether seals exist that the checkpoint does not cover yet."""
        return self._sealed_through > self._checkpointed_through

    def sealed(self, last_seq: int, nbytes: int) -> None:
        """Note a seal (from the committer's thread, which the event loop is waiting on)."""
        self._sealed_through = last_seq
        self._seals_since += 1
        self._bytes_since += nbytes

    def advance_if_due(self) -> None:
        """Start an update in the background when enough was sealed since the last one (and
        none is running)."""
        due = self._seals_since >= CHECKPOINT_EVERY_SEALS or self._bytes_since >= (
            CHECKPOINT_EVERY_BYTES
        )
        if not due or (self._task is not None and not self._task.done()):
            return
        self._seals_since = self._bytes_since = 0
        self._task = asyncio.get_running_loop().create_task(self.advance())

    async def advance(self) -> None:
        """Record everything sealed so far. A failure is logged and retried later: the checkpoint
        only bounds what a start reads, and the old one (written atomically) stays valid."""
        through = self._sealed_through
        if through <= self._checkpointed_through:
            return
        if await asyncio.to_thread(self._write, through):
            self._checkpointed_through = max(self._checkpointed_through, through)
            self.updates += 1

    async def finish(self) -> None:
        """Wait for an update in flight, then record the rest (the writer is closing)."""
        if self._task is not None:
            await self._task
        await self.advance()

    def _write(self, through: int) -> bool:
        try:
            update_checkpoint(
                self._directory, WalCheckpoint(sealed_through_seq=through), self._fsync
            )
        except (OSError, ValueError) as exc:
            log.warning("WAL %s: checkpoint not advanced: %s", self._stream, exc)
            return False
        return True
