"""The exclusive `flock` that makes one writer the only owner of a stream's directory.

`flock` locks belong to an open file description, so a second open in the same process is
refused like one in another process, and the kernel drops the lock when its holder dies
(a SIGKILLed writer never leaves a stale lock behind).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from storage.wal.errors import WalLockedError
from storage.wal.naming import LOCK_FILE_NAME


class DirectoryLock:
    """Holds the lock until `release()`. The file's content (the holder's pid) is informative
    only: the lock itself is the `flock`."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, directory: Path) -> DirectoryLock:
        """Lock `directory` or raise WalLockedError naming the current holder."""
        path = directory / LOCK_FILE_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise WalLockedError(
                directory, f"pid {holder}" if holder else "another writer"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Release the lock; releasing it again does nothing."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
