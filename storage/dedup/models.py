"""What goes into the dedup store and what comes out of it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.order import WinnerKey
from ledger.stream_id import StreamId
from storage.dedup.errors import DedupRecordError

DIGEST_BYTES = 32
MAX_BIGINT = (1 << 63) - 1
"""Columns are PostgreSQL bigint. An hlc above this is a wall clock past the year 6429."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record was accepted: the WAL stream `<region>/<node>` and its seq there."""

    region: str
    node: str
    seq: int

    @property
    def stream(self) -> StreamId:
        """The WAL stream the record was accepted into."""
        return StreamId(self.region, self.node)


@dataclass(frozen=True, slots=True)
class DedupRecord:
    """One WAL record as the dedup store sees it.

    digest: `ledger.signing.content_digest` of the envelope (32 bytes); event: the signed
    event's canonical JSON bytes, signature included, stored exactly as given (non-empty).
    """

    tenant_id: str
    event_id: str
    hlc: int
    region: str
    node: str
    seq: int
    digest: bytes
    event: bytes
    accepted_at_ms: int

    @property
    def winner_key(self) -> WinnerKey:
        """The record's place in the order that picks a key's winner: the lowest wins."""
        return WinnerKey(self.hlc, self.region, self.node, self.seq)

    @property
    def origin(self) -> Origin:
        """Where the record was accepted."""
        return Origin(self.region, self.node, self.seq)

    def check(self) -> None:
        """Raise DedupRecordError unless every field fits its column."""
        for name in ("tenant_id", "event_id", "region", "node"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or "\x00" in value:
                raise DedupRecordError(
                    f"{name}: expected a non-empty string without NUL, got {value!r}"
                )
        for name in ("hlc", "seq", "accepted_at_ms"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= MAX_BIGINT
            ):
                raise DedupRecordError(f"{name}: expected an integer in 0..2**63-1, got {value!r}")
        if not isinstance(self.digest, bytes) or len(self.digest) != DIGEST_BYTES:
            got = len(self.digest) if isinstance(self.digest, bytes) else type(self.digest).__name__
            raise DedupRecordError(f"digest: expected {DIGEST_BYTES} bytes, got {got}")
        if not isinstance(self.event, bytes) or not self.event:
            raise DedupRecordError("event: expected the non-empty bytes of the signed event")


class Outcome(StrEnum):
    """What applying a record did, judged against the winner after the apply."""

    ACCEPTED = "accepted"  # this record is the winner
    DUPLICATE = "duplicate"  # another record wins, with the same content digest
    CONFLICT = "conflict"  # another record wins, with a different content digest
    # The record is below its tenant's retention horizon (migration 0007): refused, nothing
    # written, so a late replay never resurrects an expired record.
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The outcome for one applied record, and the key's winner after the apply.

    An EXPIRED record has no winner to report: `winner`, `winner_hlc` and `winner_digest` are
    the refused record's own, and `horizon_hlc` is the tenant's horizon that refused it (None
    for every other outcome).
    """

    tenant_id: str
    event_id: str
    outcome: Outcome
    winner: Origin
    winner_hlc: int
    winner_digest: bytes
    horizon_hlc: int | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """The winning record of a key."""

    tenant_id: str
    event_id: str
    event: bytes
    origin: Origin
    hlc: int
    accepted_at_ms: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class Conflict:
    """A record that lost to a winner with a different content digest."""

    tenant_id: str
    event_id: str
    winner: Origin
    winner_hlc: int
    winner_digest: bytes
    loser: Origin
    loser_hlc: int
    loser_digest: bytes
