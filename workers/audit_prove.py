"""Building an audit receipt for a key: its winning record, the record's leaf in its source
region's log (a record replayed from another region is proven by that region's log), the
inclusion proof, and the checkpoint it leads to with the witnesses' cosignatures
(docs/audit.md "Receipt").

The checkpoint is the newest one a witness cosigned that covers the leaf; while none does yet,
the first signed one that covers it (the receipt then verifies under the log key alone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ledger.config import Settings
from ledger.event_wire import parse_signed_event
from ledger.receipt import Receipt, receipt_from_parts
from storage.audit.cosigned import batch_to_prove, witnessed_note
from storage.audit.proofs import record_leaf_index, record_receipt_parts
from storage.dedup.store import read_event
from storage.tiering.reader import TierReadOptions
from workers.audit_ops import control_db


class NotProvable(Exception):
    """No receipt can be made (yet): the key is unknown, or its leaf not yet in a checkpoint.
    `pending` says whether asking again later may succeed."""

    def __init__(self, message: str, *, pending: bool) -> None:
        super().__init__(message)
        self.pending = pending


@dataclass(frozen=True)
class ProvenEvent:
    """A receipt and the witnesses whose cosignatures its checkpoint carries."""

    receipt: Receipt
    cosigned_by: list[str]


async def prove_event(settings: Settings, tenant_id: str, event_id: str) -> ProvenEvent:
    """The receipt of the key's winning record. Raises NotProvable."""
    stored = None
    tiering = TierReadOptions.from_settings(settings)
    for region in settings.regions.values():
        stored = await read_event(region, tenant_id, event_id, tiering)
        if stored is not None:
            break
    if stored is None:
        raise NotProvable(
            f"no event {event_id!r} of tenant {tenant_id!r} in any region", pending=False
        )
    origin = stored.origin
    stream = str(origin.stream)
    if origin.region not in settings.regions:
        raise NotProvable(
            f"the event was accepted in region {origin.region}, which this configuration does "
            "not name: its log proves it",
            pending=False,
        )
    async with control_db(settings, origin.region) as db:
        index = await record_leaf_index(db, stream, origin.seq)
        batch, _ = (None, False) if index is None else await batch_to_prove(db, index)
        parts = (
            None
            if batch is None
            else await record_receipt_parts(db, stream, origin.seq, batch=batch)
        )
        note = None if batch is None else await witnessed_note(db, batch)
    if parts is None or note is None:
        raise NotProvable(
            f"{stream} seq {origin.seq} ({tenant_id}/{event_id}) is not in a checkpoint of "
            f"{origin.region}'s log yet",
            pending=True,
        )
    receipt = receipt_from_parts(
        origin.region,
        parts.leaf,
        parts.index,
        parts.proof,
        note["note"],
        parse_signed_event(json.loads(stored.event)),
    )
    return ProvenEvent(receipt, note["witnesses"])
