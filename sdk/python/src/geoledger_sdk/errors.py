"""Every error the SDK raises derives from `GeoledgerError`; messages say what was expected and what
was got."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geoledger_sdk.results import EventResult


class GeoledgerError(Exception):
    """Base of every error `geoledger_sdk` raises."""


class InvalidEventError(GeoledgerError):
    """An envelope breaks a field rule; nothing was signed or sent.

    `field` names the offending field (`"payload"`, `"tenant_id"`, ...).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class CanonicalizationError(GeoledgerError):
    """A value cannot be written as RFC 8785 canonical JSON (NaN, huge integer, bad key...)."""


class KeyFormatError(GeoledgerError):
    """Key material could not be read (not a PKCS8 Ed25519 PEM, wrong length, bad base64...)."""


class ClientError(GeoledgerError):
    """Base of the errors a `Client` raises while talking to the server.

    `completed` holds the per-event results of the batches that had already been answered when
    the error happened (events of a multi-batch send are sent batch by batch, in order).
    """

    completed: tuple[EventResult, ...] = ()


class BatchRejectedError(ClientError):
    """The server rejected the whole batch (400, 413 or 422); it is never retried."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"server rejected the batch with HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class RetriesExhaustedError(ClientError):
    """Every attempt failed with a retryable answer (429, 5xx) or a transport error, or the
    server asked for a longer wait than the retry policy's max_delay. `retry_after` is the last
    answer's `Retry-After` in seconds (None without one): when to send again."""

    def __init__(
        self,
        attempts: int,
        last_failure: str,
        last_status: int | None,
        retry_after: float | None = None,
    ) -> None:
        wait = "" if retry_after is None else f" (server asked to retry after {retry_after:g}s)"
        super().__init__(f"gave up after {attempts} attempts; last failure: {last_failure}{wait}")
        self.attempts = attempts
        self.last_failure = last_failure
        self.last_status = last_status
        self.retry_after = retry_after


class UnexpectedResponseError(ClientError):
    """The server answered something this SDK does not understand (status or body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"unexpected answer (HTTP {status}): {message}")
        self.status = status


class EventNotFoundError(ClientError):
    """`GET /v1/events/{tenant}/{event_id}` answered 404: the server knows no such event."""

    def __init__(self, tenant_id: str, event_id: str) -> None:
        super().__init__(f"no event {event_id!r} for tenant {tenant_id!r}")
        self.tenant_id = tenant_id
        self.event_id = event_id


class ReceiptError(GeoledgerError):
    """An audit receipt that cannot be read or does not prove what it claims.

    `step` names the check that failed, in the order `verify_receipt` runs them: "format",
    "log_signature", "checkpoint", "cosignature", "leaf", "event", "inclusion",
    "event_signature"; the message says what differs.
    """

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
