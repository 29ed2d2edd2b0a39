"""Errors of the embedded stack."""

from __future__ import annotations


class StackError(Exception):
    """Base of every error the embedded stack raises."""


class PortInUseError(StackError):
    """A part's port is already taken by another process."""

    def __init__(self, part: str, host: str, port: int) -> None:
        super().__init__(
            f"{part}: port {port} on {host} is already in use; free it or choose another port "
            f"in [dev] of geoledger.toml (or GEOLEDGER_DEV__*_PORT)"
        )
        self.part, self.host, self.port = part, host, port


class PartFailedError(StackError):
    """A part did not start; the message carries the tail of its log."""

    def __init__(self, part: str, reason: str, log_tail: str) -> None:
        super().__init__(
            f"{part} failed to start: {reason}\n--- last lines of its log ---\n{log_tail}"
        )
        self.part = part
