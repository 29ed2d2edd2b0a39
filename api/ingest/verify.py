"""Signature verification for a batch (I1): each event's key must exist, belong to the event's
tenant and not be revoked, and its Ed25519 signature must verify - before anything else happens.

Signatures are checked in worker processes, one per core (`storage.cpu_pool`); a request with
only a few signatures is verified in the event loop itself, where it costs less than a round trip
to a worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from api.ingest.batch import BatchItem, Rejection
from api.ingest.results import Reason
from ledger.envelope import SignedEvent
from ledger.signing import verification_inputs, verify_signature
from storage.cpu_pool import CpuPool

INLINE_MAX = 8
"""Requests with at most this many signatures to check verify them in the event loop."""


@dataclass(frozen=True)
class KnownKey:
    key_id: str
    tenant_id: str
    public_key: bytes  # 32 raw bytes (RFC 8032 §5.1.5): what verification and workers take
    revoked: bool


class KeyResolver(Protocol):
    """Where verification learns about keys and tenants (the key registry, cached)."""

    async def key(self, key_id: str) -> KnownKey | None: ...

    async def tenant_exists(self, tenant_id: str) -> bool: ...


class SignatureVerifier:
    def __init__(self, keys: KeyResolver, processes: int | None = None) -> None:
        self._keys = keys
        self._workers = CpuPool(processes, inline_max=INLINE_MAX, preload=[__name__])

    def close(self) -> None:
        self._workers.close()

    async def check(self, items: Sequence[BatchItem]) -> list[BatchItem]:
        """Return `items` with every event that fails a key or signature check turned into a
        rejection. Events already rejected by the schema stay as they are."""
        checked = list(items)
        to_verify: list[tuple[int, SignedEvent, bytes]] = []
        # A batch usually carries one tenant's events under one key: look each key up once.
        known_keys: dict[str, KnownKey | None] = {}
        for position, item in enumerate(items):
            if item.event is None:
                continue
            outcome = await self._key_for(item.event, known_keys)
            if isinstance(outcome, Rejection):
                checked[position] = _rejected(item, outcome)
            else:
                to_verify.append((position, item.event, outcome))
        for position, valid in await self._verify_all(to_verify):
            if not valid:
                checked[position] = _rejected(
                    items[position],
                    Rejection(
                        Reason.SIGNATURE_INVALID, "the signature does not verify under key_id"
                    ),
                )
        return checked

    async def _key_for(
        self, event: SignedEvent, known_keys: dict[str, KnownKey | None]
    ) -> bytes | Rejection:
        if event.key_id in known_keys:
            known = known_keys[event.key_id]
        else:
            known = known_keys[event.key_id] = await self._keys.key(event.key_id)
        if known is None:
            if not await self._keys.tenant_exists(event.tenant_id):
                return Rejection(Reason.TENANT_UNKNOWN, f"tenant {event.tenant_id!r} has no keys")
            return Rejection(Reason.KEY_UNKNOWN, f"key {event.key_id!r} is not registered")
        if known.tenant_id != event.tenant_id:
            return Rejection(
                Reason.KEY_TENANT_MISMATCH,
                f"key {event.key_id!r} belongs to another tenant, not {event.tenant_id!r}",
            )
        if known.revoked:
            return Rejection(Reason.KEY_REVOKED, f"key {event.key_id!r} has been revoked")
        return known.public_key

    async def _verify_all(
        self, work: list[tuple[int, SignedEvent, bytes]]
    ) -> list[tuple[int, bool]]:
        answers: list[tuple[int, bool]] = []
        jobs: list[_RawJob] = []
        for position, event, key in work:
            inputs = verification_inputs(event)
            if inputs is None:
                answers.append((position, False))
            else:
                jobs.append((position, key, *inputs))
        return answers + await self._workers.map_chunks(_verify_chunk, jobs)


_RawJob = tuple[int, bytes, bytes, bytes]


def _verify_chunk(chunk: list[_RawJob]) -> list[tuple[int, bool]]:
    """Runs in a worker process (or in the event loop, for a small batch)."""
    return [(p, verify_signature(raw, s, m)) for p, raw, s, m in chunk]


def _rejected(item: BatchItem, rejection: Rejection) -> BatchItem:
    return BatchItem(item.index, item.tenant_id, item.event_id, None, rejection)
