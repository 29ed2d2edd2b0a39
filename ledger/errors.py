"""Errors raised by the pure domain code. Every message says what was expected and what was got."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error `ledger/` raises."""


class ConfigError(LedgerError):
    """The configuration is missing or invalid; the message lists every bad field."""


class CanonicalFormError(LedgerError):
    """A value has no RFC 8785 canonical form (NaN, infinity, an integer beyond 2**53 - 1, a
    non-string key, a lone surrogate, a non-JSON type), or bytes are not canonical base64url."""


class EventSchemaError(LedgerError):
    """An event does not match the envelope schema.

    `field` names the offending field ("event" when the whole object is wrong) and `reason` is the
    machine-readable form clients and the ingest API report, for example "schema.event_id".
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = f"schema.{field}"
        self.detail = message


class KeyFormatError(LedgerError):
    """Key material is not in the expected encoding (PKCS8 PEM, raw base64url, 32-byte seed)."""


class ClockDriftError(LedgerError):
    """A remote hybrid-logical-clock timestamp is further ahead of the local wall clock than the
    configured bound allows."""


class RecordDecodeError(LedgerError):
    """WAL record bytes are not a well-formed, canonical record of a version we understand."""


class ManifestError(LedgerError):
    """CRR manifest bytes are malformed, not canonical, or inconsistent with their segment."""


class GeoInputError(LedgerError):
    """A seq range, stream name or bucket count handed to the geo-divergence check is not one it
    can use; nothing was read or written. Its name is the `ApplicationError` type the check's
    retry policy refuses to retry."""


class ProofError(LedgerError, ValueError):
    """A Merkle inclusion or consistency proof does not verify, or a proof function was given
    arguments outside its preconditions (an index past the tree, sizes in the wrong order, a hash
    that is not 32 bytes). The message names the check that failed."""


class NoteError(LedgerError):
    """A C2SP signed note, checkpoint, cosignature or witness request that cannot be accepted;
    the message names what is wrong."""


class MalformedNoteError(NoteError):
    """The text does not follow the format (C2SP signed-note, tlog-checkpoint, tlog-witness)."""


class UnverifiedNoteError(NoteError):
    """Well-formed, but no signature from a trusted key verifies, or one from a trusted key fails
    (C2SP signed-note: such a note is rejected whole)."""


class ReceiptError(LedgerError):
    """An audit receipt that cannot be read or does not prove what it claims.

    `step` names the verification step that failed (ledger/receipt.py `ReceiptStep`: "format",
    "log_signature", "checkpoint", "cosignature", "leaf", "event", "inclusion",
    "event_signature") and `detail` what differs.
    """

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


class ReadCredentialError(LedgerError):
    """An `Authorization` header of a signed read is not one we can parse (ledger/read_signing)."""


class DpInputError(LedgerError, ValueError):
    """A differentially private export or budget was asked for with parameters it cannot take
    (epsilon not positive, lower above upper, an unknown query or mechanism, ...)."""
