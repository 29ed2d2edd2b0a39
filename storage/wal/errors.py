"""Errors raised by the write-ahead log. Every message says what was expected and what was got."""

from __future__ import annotations

from pathlib import Path


class WalError(Exception):
    """Base of every error `storage.wal` raises."""


class WalCorruptionError(WalError):
    """Bytes on disk that recovery must not repair: an operator has to look at them.

    `offset` is the byte offset inside `path` where the bad frame starts, or None when the
    problem is the directory's layout (a gap between segments, two open segments ...).
    """

    def __init__(self, path: Path, offset: int | None, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        where = f"{path} at byte {offset}" if offset is not None else str(path)
        super().__init__(f"WAL corruption in {where}: {reason}")


class WalLockedError(WalError):
    """Another writer (in this or another process) owns the stream's directory."""

    def __init__(self, directory: Path, holder: str) -> None:
        self.directory = directory
        self.holder = holder
        super().__init__(
            f"expected to own the WAL directory {directory} exclusively, "
            f"but its lock is held by {holder}"
        )


class WalStreamMismatchError(WalError):
    """The directory belongs to a different stream than the one the writer was opened for."""

    def __init__(self, directory: Path, expected: str, found: str) -> None:
        self.directory = directory
        self.expected = expected
        self.found = found
        super().__init__(
            f"expected WAL directory {directory} to hold stream {expected!r}, "
            f"but it holds stream {found!r}"
        )


class InvalidStreamNameError(WalError):
    """A stream name is not `<region>/<node>`."""


class WalClosedError(WalError):
    """The writer was closed; nothing more can be appended through it."""


class WalFailedError(WalError):
    """A write or fsync failed. The writer refuses every later append: after a failed fsync the
    kernel may have dropped dirty pages, so retrying could acknowledge records that are not on
    disk. Restart the writer; recovery re-reads what the disk really holds."""


class RecordTooLargeError(WalError):
    """A record exceeds the 16 MiB frame limit."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"expected a record of at most {limit} bytes, got {size} bytes")


class EmptyRecordError(WalError):
    """A record has no bytes. Zero-length frames are refused because a zero-filled tail (what a
    file system can leave after a crash) would otherwise parse as valid empty records."""

    def __init__(self) -> None:
        super().__init__("expected a record of at least 1 byte, got 0 bytes")


class WalPrunedError(WalError):
    """Records asked for were pruned from the local WAL after they were shipped: they are read
    from the ship targets now (the stores hold every segment behind a committed manifest)."""

    def __init__(self, directory: Path, after_seq: int, first_retained_seq: int) -> None:
        self.directory = directory
        self.after_seq = after_seq
        self.first_retained_seq = first_retained_seq
        super().__init__(
            f"expected the WAL in {directory} to hold the records after seq {after_seq}, but it "
            f"keeps seqs from {first_retained_seq} on: seqs {after_seq + 1}.."
            f"{first_retained_seq - 1} were pruned after their manifests were committed in every "
            f"ship target; read them from a ship target"
        )
