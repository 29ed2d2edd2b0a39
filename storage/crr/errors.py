"""Errors of cross-region replication."""

from __future__ import annotations


class CrrError(Exception):
    """Base of every CRR error."""


class ShipConflictError(CrrError):
    """An object already exists at a key with different bytes: first write wins, so this is a
    hard error that needs an operator (two shippers for one stream, or a rewritten WAL).

    `store` is the URL of the store holding the other bytes, `key` their key in it.
    """

    def __init__(self, store: str, key: str, ours: str, theirs: str) -> None:
        super().__init__(
            f"{store}/{key} already holds different bytes (sha256 {theirs}, ours {ours}); "
            "first write wins - see runbooks/wal-crr-ops.md"
        )
        self.store, self.key = store, key


class ManifestGapError(CrrError):
    """The next manifest is missing while later ones exist: replay must not skip it."""

    def __init__(self, stream: str, expected_first_seq: int, found_first_seq: int) -> None:
        super().__init__(
            f"{stream}: expected the manifest starting at seq {expected_first_seq}, "
            f"but the next one starts at {found_first_seq}"
        )
        self.stream = stream
        self.expected_first_seq, self.found_first_seq = expected_first_seq, found_first_seq


class VerificationError(CrrError):
    """Bytes read back from a store do not match their signed manifest (I5) or an event in them
    does not verify (I1). Never retried: the same bytes will fail the same way.

    `store` is the URL of the store that lacks bytes that verify, when one store is to blame.
    """

    def __init__(self, message: str, *, store: str | None = None) -> None:
        super().__init__(message)
        self.store = store


class SegmentNotFoundError(CrrError):
    """A sealed segment named by a workflow is not in the WAL directory."""
