"""A key row's winner with the columns that say where its body is (migration 0006): the one
shape the reader, promotion and the dump share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ledger.cold_location import ColdLocation


class BodyTier(IntEnum):
    """`dedup_events.body_tier`: which column(s) hold the winner's body."""

    HOT = 0
    WARM = 1
    COLD = 2

    @property
    def label(self) -> str:
        """The tier's metric label and name in messages: hot, warm, cold."""
        return self.name.lower()


# Selected with the key columns wherever a body is read.
BODY_COLUMNS = "body_tier, event, warm_body, cold_pack_id, cold_offset, cold_length, cold_sha256"


@dataclass(frozen=True)
class BodyRow:
    """The winner of key (`tenant_id`, `event_id`) (`region`, `node`, `seq`: what a conditional
    UPDATE checks is unchanged), its content `digest`, and its body in exactly one tier: `event`
    when hot, `warm_body` when warm, `cold` when cold."""

    tenant_id: str
    event_id: str
    region: str
    node: str
    seq: int
    digest: bytes
    tier: BodyTier
    event: bytes | None
    warm_body: bytes | None
    cold: ColdLocation | None

    @classmethod
    def from_record(cls, row: Mapping[str, Any]) -> BodyRow:
        """The row as selected with the key columns and BODY_COLUMNS (an asyncpg Record)."""
        tier = BodyTier(row["body_tier"])
        cold = None
        if tier is BodyTier.COLD:
            cold = ColdLocation(
                pack_id=row["cold_pack_id"],
                offset=int(row["cold_offset"]),
                length=int(row["cold_length"]),
                sha256=bytes(row["cold_sha256"]).hex(),
            )
        return cls(
            tenant_id=row["tenant_id"],
            event_id=row["event_id"],
            region=row["region"],
            node=row["node"],
            seq=int(row["seq"]),
            digest=bytes(row["digest"]),
            tier=tier,
            event=_bytes(row["event"]),
            warm_body=_bytes(row["warm_body"]),
            cold=cold,
        )


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)
