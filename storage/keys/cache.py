"""`KeyCache`: the hot path's key lookups, cached for a short time.

Signature verification looks a key up for every event; a cache keeps that off the control
database. The time-to-live bounds staleness: a revocation (or a newly created key) takes effect
on a node at most `ttl_seconds` (default 2 s) after it committed in the node's region. Unknown
ids are cached too, so a flood of bogus key ids costs one query per id per TTL; concurrent
lookups of one id share a single query.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from storage.keys.registry import TenantKey

DEFAULT_TTL_SECONDS = 2.0
DEFAULT_MAX_ENTRIES = 100_000


class KeyLookup(Protocol):
    """Where keys are looked up by id: the key registry, or a cache in front of it."""

    async def get(self, key_id: str) -> TenantKey | None:
        """The key registered as `key_id` (revoked or not), None when there is none."""
        ...


class KeyCache:
    """Key lookups by id in front of a registry: answers (None too) kept `ttl_seconds`, at most
    `max_entries` of them, with one registry call per key at a time."""

    def __init__(
        self,
        registry: KeyLookup,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0 or max_entries < 1:
            raise ValueError(
                f"expected ttl_seconds >= 0 and max_entries >= 1, got {ttl_seconds}, {max_entries}"
            )
        self._registry = registry
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, TenantKey | None]] = {}
        self._inflight: dict[str, asyncio.Future[TenantKey | None]] = {}

    async def get(self, key_id: str) -> TenantKey | None:
        """The key (revoked or not) or None, at most `ttl_seconds` old. Registry errors are
        raised, never cached."""
        entry = self._entries.get(key_id)
        if entry is not None and self._clock() < entry[0]:
            return entry[1]
        pending = self._inflight.get(key_id)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller was cancelled
                return await self.get(key_id)  # the caller that was querying was cancelled
        future: asyncio.Future[TenantKey | None] = asyncio.get_running_loop().create_future()
        self._inflight[key_id] = future
        try:
            key = await self._registry.get(key_id)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters, if any, get it from their await
            raise
        else:
            self._store(key_id, key)
            future.set_result(key)
            return key
        finally:
            del self._inflight[key_id]

    def invalidate(self, key_id: str | None = None) -> None:
        """Forget one key, or every key."""
        if key_id is None:
            self._entries.clear()
        else:
            self._entries.pop(key_id, None)

    def _store(self, key_id: str, key: TenantKey | None) -> None:
        now = self._clock()
        if len(self._entries) >= self._max_entries:
            # Drop expired entries first; if none were, the oldest insertion goes.
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
        self._entries[key_id] = (now + self._ttl, key)
