"""The per-event answer of `POST /v1/events`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["accepted", "duplicate", "conflict", "rejected"]


@dataclass(frozen=True)
class EventResult:
    index: int
    tenant_id: str | None
    event_id: str | None
    status: Status
    reason: str | None = None
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
