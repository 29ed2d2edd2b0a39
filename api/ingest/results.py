"""The per-event answer of `POST /v1/events`: its status and, for a rejected event, the reason."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

Status = Literal["accepted", "duplicate", "conflict", "rejected"]


class Reason(StrEnum):
    """Why an event was `rejected`: the machine-readable code clients receive as `reason`.

    The values are wire strings (and metric labels): never rename one. Each is documented in
    docs/api.md and the SDK READMEs, and each SDK declares the same codes under the same names
    (sdk/*/results.*); tests/unit/test_ingest_reasons.py holds them to that.
    """

    # The envelope breaks the schema; `schema.<field>` names the first offending field
    # (`ledger.errors.EventSchemaError.reason`), `schema.event` the object as a whole.
    SCHEMA_EVENT = "schema.event"
    SCHEMA_TENANT_ID = "schema.tenant_id"
    SCHEMA_EVENT_ID = "schema.event_id"
    SCHEMA_KEY_ID = "schema.key_id"
    SCHEMA_OCCURRED_AT = "schema.occurred_at"
    SCHEMA_TYPE = "schema.type"
    SCHEMA_PAYLOAD = "schema.payload"
    SCHEMA_SIGNATURE = "schema.signature"
    # The key registry refuses the signer (I1).
    TENANT_UNKNOWN = "tenant.unknown"
    KEY_UNKNOWN = "key.unknown"
    KEY_TENANT_MISMATCH = "key.tenant_mismatch"
    KEY_REVOKED = "key.revoked"
    SIGNATURE_INVALID = "signature.invalid"
    # The event's hlc is below its tenant's retention horizon: the record would already have been
    # deleted, so it is refused (only a node whose clock is more than the retention behind).
    RETENTION_EXPIRED = "retention.expired"
    # The node gave no verdict for a well-formed event: a server fault, never the client's.
    INTERNAL = "internal"


@dataclass(frozen=True)
class EventResult:
    index: int
    tenant_id: str | None
    event_id: str | None
    status: Status
    reason: Reason | None = None
    detail: str | None = None
    seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tenant_id": self.tenant_id,
            "event_id": self.event_id,
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "seq": self.seq,
        }
