"""Errors of the audit log and its witnesses; messages say what was expected and what was got."""

from __future__ import annotations


class AuditError(Exception):
    """Base of every audit error."""


class AuditForkDetected(AuditError):
    """A witness holds a checkpoint of this log that ours does not extend: it cosigned a larger
    tree than ours, or refused our tree at the size it asked for. Either the log forked (a
    split view) or a witness was fed another log's checkpoints: an operator must look, so this
    is never retried (ARCHITECTURE §3 Audit, alert AuditForkDetected)."""

    def __init__(self, witness: str, origin: str, our_size: int, witness_size: int) -> None:
        super().__init__(
            f"witness {witness} refuses {origin} at size {our_size}: it holds size "
            f"{witness_size}, which our log does not extend"
        )
        self.witness, self.origin = witness, origin
        self.our_size, self.witness_size = our_size, witness_size


class WitnessFailed(AuditError):
    """A witness did not cosign for a reason that may pass (unreachable, 5xx, an answer that is
    not a valid cosignature): it counts against the witness's circuit breaker."""

    def __init__(self, witness: str, reason: str) -> None:
        super().__init__(f"witness {witness}: {reason}")
        self.witness, self.reason = witness, reason


class WitnessConfigError(AuditError):
    """A witness or witnessed log is configured in a way that cannot be used (unknown region,
    missing key file)."""


class SegmentNotShipped(AuditError):
    """No committed manifest starts at the seq asked for: the segment is not shipped (yet)."""


class LogInconsistent(AuditError):
    """The control database disagrees with itself (a segment row without all its leaves, a stored
    node missing): the append or proof is refused rather than building on it."""


class BatchOutOfOrder(AuditError):
    """A batch number not above the latest stored one that is not stored itself."""


class DlqEntryNotFound(AuditError):
    """No DLQ row has the id asked for."""


class DlqStateError(AuditError):
    """The DLQ row is not in a state that allows what was asked (or the purge lacks who or why)."""
