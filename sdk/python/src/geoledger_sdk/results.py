"""What the server answered: one `EventResult` per event, and deprecation notices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Status = Literal["accepted", "duplicate", "conflict", "rejected"]
STATUSES: tuple[Status, ...] = ("accepted", "duplicate", "conflict", "rejected")


class Reason(StrEnum):
    """Why the server rejected an event: the codes of `EventResult.reason`, each named after its
    wire string. A member equals its code (`Reason.KEY_REVOKED == "key.revoked"`). What each means
    and what to do about it: docs/api.md, section "Reason codes"."""

    SCHEMA_EVENT = "schema.event"
    SCHEMA_TENANT_ID = "schema.tenant_id"
    SCHEMA_EVENT_ID = "schema.event_id"
    SCHEMA_KEY_ID = "schema.key_id"
    SCHEMA_OCCURRED_AT = "schema.occurred_at"
    SCHEMA_TYPE = "schema.type"
    SCHEMA_PAYLOAD = "schema.payload"
    SCHEMA_SIGNATURE = "schema.signature"
    TENANT_UNKNOWN = "tenant.unknown"
    KEY_UNKNOWN = "key.unknown"
    KEY_TENANT_MISMATCH = "key.tenant_mismatch"
    KEY_REVOKED = "key.revoked"
    SIGNATURE_INVALID = "signature.invalid"
    RETENTION_EXPIRED = "retention.expired"
    INTERNAL = "internal"


@dataclass(frozen=True)
class EventResult:
    """The server's verdict on one event. `index` is the event's position in the `send` call.

    `accepted`: stored now. `duplicate`: an identical event (same content digest) was stored before.
    `conflict`: another event with the same `event_id` but different content won. `rejected`: bad
    signature or schema; `reason` is a machine code and `detail` a human explanation.
    """

    index: int
    tenant_id: str
    event_id: str
    status: Status
    # A `Reason` for every code this SDK knows; a code added by a newer server arrives as the plain
    # string it sent rather than failing the whole answer. Both compare equal to the wire string.
    reason: Reason | str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """True when the event is stored as sent (`accepted` or `duplicate`)."""
        return self.status in ("accepted", "duplicate")


@dataclass(frozen=True)
class DeprecationNotice:
    """The `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and deprecation `Link` headers of an
    answer, verbatim. `Deprecation` is a structured date such as `@1735689600`; `Sunset` is an
    HTTP-date after which the API version may stop answering."""

    deprecation: str | None
    sunset: str | None
    link: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> DeprecationNotice | None:
        """The notice carried by `headers`, or None when the answer carries none."""
        deprecation = headers.get("deprecation")
        sunset = headers.get("sunset")
        if deprecation is None and sunset is None:
            return None
        return cls(deprecation=deprecation, sunset=sunset, link=headers.get("link"))

    def describe(self) -> str:
        parts = [f"Deprecation: {self.deprecation}"] if self.deprecation else []
        parts += [f"Sunset: {self.sunset}"] if self.sunset else []
        parts += [f"Link: {self.link}"] if self.link else []
        return "; ".join(parts)


@dataclass(frozen=True)
class SendResult:
    """The answer to one `send` call: `results[i]` belongs to the i-th event sent."""

    results: tuple[EventResult, ...]
    deprecation: DeprecationNotice | None = None

    @property
    def all_ok(self) -> bool:
        """True when every event was accepted or was a duplicate."""
        return all(result.ok for result in self.results)

    def failed(self) -> tuple[EventResult, ...]:
        """The results that are neither accepted nor duplicate."""
        return tuple(result for result in self.results if not result.ok)
