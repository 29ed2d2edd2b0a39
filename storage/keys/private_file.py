"""Writing a new private key file: created with mode 0600 from the start, never overwriting.

The file is created by `os.open(..., O_CREAT | O_EXCL, 0o600)`: the mode is set atomically with
the creation, so there is no moment at which another user could open a readable file (as there
would be with write-then-chmod), and an existing file, or a symlink planted at the path, makes the
creation fail instead of being followed or replaced.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from storage.keys.errors import PrivateKeyFileExistsError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
PRIVATE_MODE = 0o600


class NewPrivateKeyFile:
    """Claim `path` now, write the key later, or discard the claim.

    Use as a context manager: leaving it without `write` (on an error) removes the empty file, so
    a failed registration leaves nothing behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(path, _FLAGS, PRIVATE_MODE)
        except FileExistsError:
            raise PrivateKeyFileExistsError(
                f"expected {path} not to exist, got an existing file; refusing to overwrite it"
            ) from None

    def write(self, data: bytes) -> None:
        """Write all of `data`, fsync and close the file."""
        fd = self._require_open()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        self._fd = None

    def discard(self) -> None:
        """Close and remove the file if it was not written."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.path.unlink(missing_ok=True)

    def _require_open(self) -> int:
        if self._fd is None:
            raise ValueError(f"expected {self.path} to be open for writing, got a closed file")
        return self._fd

    def __enter__(self) -> NewPrivateKeyFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()
