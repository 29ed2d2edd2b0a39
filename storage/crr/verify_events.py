"""Re-verifying the events of a shipped segment before they touch dedup state (I1 on replay)."""

from __future__ import annotations

import asyncio
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.errors import RecordDecodeError
from ledger.record import decode_record
from ledger.signing import verify
from storage.crr.errors import VerificationError
from storage.dedup.from_wal import dedup_record_from
from storage.dedup.models import DedupRecord
from storage.keys import TenantKey

YIELD_EVERY = 200


class KeyLookup(Protocol):
    async def get(self, key_id: str) -> TenantKey | None: ...


async def verified_dedup_records(
    frames: list[tuple[int, bytes]], stream: str, keys: KeyLookup, region: str
) -> list[DedupRecord]:
    """Decode each (seq, record bytes) of `stream` and re-verify its event's signature against
    `region`'s key registry; raise VerificationError naming the seq at the first failure.

    A key revoked after the event was accepted still verifies it: the source accepted it while
    the key was valid, and refusing it here would make the regions diverge.
    """
    source_region, source_node = stream.split("/", 1)
    records: list[DedupRecord] = []
    # A segment holds many events of few keys: build each public key object once.
    public_keys: dict[str, Ed25519PublicKey] = {}
    for index, (seq, raw) in enumerate(frames):
        if index % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # let the activity heartbeat during a large segment
        try:
            record = decode_record(raw)
        except RecordDecodeError as exc:
            raise VerificationError(f"{stream} seq {seq}: {exc}") from exc
        if (record.region, record.node) != (source_region, source_node):
            raise VerificationError(
                f"{stream} seq {seq}: record names stream {record.region}/{record.node}"
            )
        event = record.event
        known = await keys.get(event.key_id)
        if known is None or known.tenant_id != event.tenant_id:
            raise VerificationError(
                f"{stream} seq {seq}: key {event.key_id!r} of tenant {event.tenant_id!r} is "
                f"unknown in region {region}"
            )
        public_key = public_keys.get(event.key_id)
        if public_key is None:
            public_key = public_keys[event.key_id] = known.ed25519()
        if not verify(public_key, event):
            raise VerificationError(
                f"{stream} seq {seq}: event {event.event_id!r} signature does not verify"
            )
        records.append(dedup_record_from(record, seq))
    return records
