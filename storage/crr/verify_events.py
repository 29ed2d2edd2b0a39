"""Re-verifying the events of a shipped segment before they touch dedup state (I1 on replay).

Decoding a record (strictly: only its canonical bytes are accepted) and verifying its Ed25519
signature are CPU-bound and hold the GIL, so a segment is split across worker processes
(`storage.cpu_pool`). Workers cannot ask the key registry, so they get the keys this verifier
has already resolved; records under a key they were not given come back unverified, the key is
looked up here, and those records go round once more. A key id names one public key of one
tenant for good (the registry never re-binds an id), so resolved keys are kept.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.errors import RecordDecodeError
from ledger.record import decode_record
from ledger.signing import verify
from ledger.stream_id import StreamId
from storage.cpu_pool import CpuPool
from storage.crr.errors import VerificationError
from storage.dedup.from_wal import dedup_record_from
from storage.dedup.models import DedupRecord
from storage.keys import TenantKey

INLINE_MAX = 32
"""Segments with at most this many records are verified in the calling process."""


def verification_workers() -> CpuPool:
    """Worker processes for `EventVerifier`s; one set can serve the verifiers of every region."""
    return CpuPool(inline_max=INLINE_MAX, preload=[__name__])


class KeyLookup(Protocol):
    """Where keys are looked up by id: the key registry, or a cache in front of it."""

    async def get(self, key_id: str) -> TenantKey | None:
        """The key registered as `key_id` (revoked or not), None when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class _Signer:
    tenant_id: str
    public_raw: bytes  # 32 bytes (RFC 8032 §5.1.5): what crosses the process boundary


# A verified record as it crosses back from a worker: a plain tuple pickles in a tenth of the
# time a slotted dataclass takes (3.3 us -> 0.2 us per record, most of it in the event loop's
# unpickling). Region and node are the stream's, checked in the worker, so they do not travel.
_VerifiedRow = tuple[str, str, int, int, bytes, bytes, int]
"""tenant_id, event_id, hlc, seq, digest, event, accepted_at_ms: a `DedupRecord` of the stream."""


def _row(record: DedupRecord) -> _VerifiedRow:
    return (
        record.tenant_id,
        record.event_id,
        record.hlc,
        record.seq,
        record.digest,
        record.event,
        record.accepted_at_ms,
    )


def _dedup_record(row: _VerifiedRow, region: str, node: str) -> DedupRecord:
    tenant_id, event_id, hlc, seq, digest, event, accepted_at_ms = row
    return DedupRecord(tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms)


@dataclass(frozen=True, slots=True)
class _NeedsKey:
    """A record decoded but not verified: the worker was not given its key."""

    seq: int
    key_id: str
    tenant_id: str


class EventVerifier:
    """Turns a segment's (seq, record bytes) into dedup records, each event's signature checked
    against one region's key registry. Reusable across segments; `close` ends its workers."""

    def __init__(self, keys: KeyLookup, region: str, workers: CpuPool | None = None) -> None:
        self._keys = keys
        self._region = region
        self._workers = workers or verification_workers()
        self._signers: dict[str, _Signer] = {}

    def close(self) -> None:
        """Stop the worker processes that verify signatures."""
        self._workers.close()

    async def dedup_records(
        self, frames: Sequence[tuple[int, bytes]], stream: str
    ) -> list[DedupRecord]:
        """Decode each (seq, record bytes) of `stream` and re-verify its event's signature; raise
        VerificationError naming the seq of a record that fails.

        A key revoked after the event was accepted still verifies it: the source accepted it while
        the key was valid, and refusing it here would make the regions diverge.
        """
        checked = await self._round(frames, stream)
        waiting = [item for item in checked if isinstance(item, _NeedsKey)]
        if waiting:
            await self._resolve(waiting, stream)
            again = {item.seq for item in waiting}
            redone = iter(await self._round([f for f in frames if f[0] in again], stream))
            checked = [next(redone) if isinstance(item, _NeedsKey) else item for item in checked]
        source = StreamId.parse(stream)
        records = [
            _dedup_record(item, source.region, source.node)
            for item in checked
            if type(item) is tuple
        ]
        if len(records) != len(checked):  # every key was resolved above, or we raised
            raise AssertionError(f"{stream}: a record's key is still unresolved")
        return records

    async def _round(
        self, frames: Sequence[tuple[int, bytes]], stream: str
    ) -> list[_VerifiedRow | _NeedsKey]:
        work = functools.partial(_decode_and_verify, stream, self._region, dict(self._signers))
        return await self._workers.map_chunks(work, frames)

    async def _resolve(self, waiting: list[_NeedsKey], stream: str) -> None:
        for item in waiting:
            if item.key_id in self._signers:
                known_tenant: str | None = self._signers[item.key_id].tenant_id
            else:
                known = await self._keys.get(item.key_id)
                known_tenant = known.tenant_id if known else None
                if known is not None:
                    self._signers[item.key_id] = _Signer(known.tenant_id, known.public_key)
            if known_tenant != item.tenant_id:
                raise VerificationError(
                    f"{stream} seq {item.seq}: key {item.key_id!r} of tenant "
                    f"{item.tenant_id!r} is unknown in region {self._region}"
                )


def _decode_and_verify(
    stream: str, region: str, signers: dict[str, _Signer], chunk: list[tuple[int, bytes]]
) -> list[_VerifiedRow | _NeedsKey]:
    """Runs in a worker process (or in the caller, for a small segment)."""
    source = StreamId.parse(stream)
    out: list[_VerifiedRow | _NeedsKey] = []
    for seq, raw in chunk:
        try:
            record = decode_record(raw)
        except RecordDecodeError as exc:
            raise VerificationError(f"{stream} seq {seq}: {exc}") from None
        if (record.region, record.node) != (source.region, source.node):
            raise VerificationError(
                f"{stream} seq {seq}: record names stream {StreamId(record.region, record.node)}"
            )
        event = record.event
        signer = signers.get(event.key_id)
        if signer is None:
            out.append(_NeedsKey(seq, event.key_id, event.tenant_id))
            continue
        if signer.tenant_id != event.tenant_id:
            raise VerificationError(
                f"{stream} seq {seq}: key {event.key_id!r} of tenant {event.tenant_id!r} is "
                f"unknown in region {region}"
            )
        if not verify(signer.public_raw, event):
            raise VerificationError(
                f"{stream} seq {seq}: event {event.event_id!r} signature does not verify"
            )
        out.append(_row(dedup_record_from(record, seq)))
    return out
