"""Signature verification for a batch (I1): each event's key must exist, belong to the event's
tenant and not be revoked, and its Ed25519 signature must verify - before anything else happens.

Verification runs on a thread pool sized to the cores so the event loop keeps serving requests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.ingest.batch import BatchItem, Rejection
from ledger.envelope import SignedEvent
from ledger.signing import verify


@dataclass(frozen=True)
class KnownKey:
    key_id: str
    tenant_id: str
    public_key: Ed25519PublicKey
    revoked: bool


class KeyResolver(Protocol):
    """Where verification learns about keys and tenants (the key registry, cached)."""

    async def key(self, key_id: str) -> KnownKey | None: ...

    async def tenant_exists(self, tenant_id: str) -> bool: ...


class SignatureVerifier:
    def __init__(self, keys: KeyResolver, threads: int | None = None) -> None:
        self._keys = keys
        self._threads = threads or os.cpu_count() or 2
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="verify")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    async def check(self, items: Sequence[BatchItem]) -> list[BatchItem]:
        """Return `items` with every event that fails a key or signature check turned into a
        rejection. Events already rejected by the schema stay as they are."""
        checked = list(items)
        to_verify: list[tuple[int, SignedEvent, Ed25519PublicKey]] = []
        for position, item in enumerate(items):
            if item.event is None:
                continue
            outcome = await self._key_for(item.event)
            if isinstance(outcome, Rejection):
                checked[position] = _rejected(item, outcome)
            else:
                to_verify.append((position, item.event, outcome))
        for position, valid in await self._verify_all(to_verify):
            if not valid:
                checked[position] = _rejected(
                    items[position],
                    Rejection("signature.invalid", "the signature does not verify under key_id"),
                )
        return checked

    async def _key_for(self, event: SignedEvent) -> Ed25519PublicKey | Rejection:
        known = await self._keys.key(event.key_id)
        if known is None:
            if not await self._keys.tenant_exists(event.tenant_id):
                return Rejection("tenant.unknown", f"tenant {event.tenant_id!r} has no keys")
            return Rejection("key.unknown", f"key {event.key_id!r} is not registered")
        if known.tenant_id != event.tenant_id:
            return Rejection(
                "key.tenant_mismatch",
                f"key {event.key_id!r} belongs to another tenant, not {event.tenant_id!r}",
            )
        if known.revoked:
            return Rejection("key.revoked", f"key {event.key_id!r} has been revoked")
        return known.public_key

    async def _verify_all(
        self, work: list[tuple[int, SignedEvent, Ed25519PublicKey]]
    ) -> list[tuple[int, bool]]:
        if not work:
            return []
        # One chunk per thread: a task per event would cost more in scheduling than in verifying.
        size = -(-len(work) // self._threads)
        chunks = [work[start : start + size] for start in range(0, len(work), size)]
        loop = asyncio.get_running_loop()
        answers = await asyncio.gather(
            *(loop.run_in_executor(self._pool, _verify_chunk, chunk) for chunk in chunks)
        )
        return [pair for answer in answers for pair in answer]


def _verify_chunk(
    chunk: list[tuple[int, SignedEvent, Ed25519PublicKey]],
) -> list[tuple[int, bool]]:
    return [(position, verify(key, event)) for position, event, key in chunk]


def _rejected(item: BatchItem, rejection: Rejection) -> BatchItem:
    return BatchItem(item.index, item.tenant_id, item.event_id, None, rejection)
