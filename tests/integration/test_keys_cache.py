"""KeyCache's own rules, over a stand-in lookup (the real registry is exercised in
test_keys_registry.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage.keys import KeyCache, TenantKey


def key(key_id: str, revoked: bool = False) -> TenantKey:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return TenantKey(key_id, "acme", b"\x01" * 32, now, now if revoked else None, ("us",))


class Lookup:
    """Answers from a dict, counting queries; can be told to fail or to wait."""

    def __init__(self) -> None:
        self.keys: dict[str, TenantKey] = {}
        self.queries = 0
        self.fail: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def get(self, key_id: str) -> TenantKey | None:
        self.queries += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self.keys.get(key_id)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_hits_within_the_ttl_do_not_query() -> None:
    lookup, clock = Lookup(), Clock()
    lookup.keys["k"] = key("k")
    cache = KeyCache(lookup, ttl_seconds=2.0, clock=clock)
    for step in (0.0, 1.0, 0.99):
        clock.now += step
        assert await cache.get("k") == key("k")
    assert lookup.queries == 1
    clock.now += 0.02  # 2.01 s after the first query
    lookup.keys["k"] = key("k", revoked=True)
    result = await cache.get("k")
    assert result is not None and result.revoked and lookup.queries == 2


async def test_unknown_ids_are_cached_too_and_invalidate_forgets() -> None:
    lookup = Lookup()
    cache = KeyCache(lookup, clock=Clock())
    assert await cache.get("nope") is None
    assert await cache.get("nope") is None
    assert lookup.queries == 1
    lookup.keys["nope"] = key("nope")
    cache.invalidate("nope")
    assert await cache.get("nope") == key("nope")


async def test_errors_are_raised_and_not_cached() -> None:
    lookup = Lookup()
    lookup.fail = ConnectionError("control database down")
    cache = KeyCache(lookup, clock=Clock())
    with pytest.raises(ConnectionError):
        await cache.get("k")
    lookup.fail = None
    lookup.keys["k"] = key("k")
    assert await cache.get("k") == key("k")
    assert lookup.queries == 2


async def test_concurrent_lookups_share_one_query() -> None:
    lookup = Lookup()
    lookup.keys["k"] = key("k")
    lookup.gate = asyncio.Event()
    cache = KeyCache(lookup, clock=Clock())
    waiting = [asyncio.create_task(cache.get("k")) for _ in range(10)]
    await asyncio.sleep(0.01)
    lookup.gate.set()
    assert await asyncio.gather(*waiting) == [key("k")] * 10
    assert lookup.queries == 1


async def test_a_cancelled_leader_does_not_fail_the_others() -> None:
    lookup = Lookup()
    lookup.keys["k"] = key("k")
    lookup.gate = asyncio.Event()
    cache = KeyCache(lookup, clock=Clock())
    leader = asyncio.create_task(cache.get("k"))
    await asyncio.sleep(0.01)
    follower = asyncio.create_task(cache.get("k"))
    await asyncio.sleep(0.01)
    leader.cancel()
    await asyncio.sleep(0.01)
    lookup.gate.set()
    assert await follower == key("k")
    with pytest.raises(asyncio.CancelledError):
        await leader


async def test_the_cache_is_bounded() -> None:
    lookup, clock = Lookup(), Clock()
    cache = KeyCache(lookup, ttl_seconds=10.0, max_entries=3, clock=clock)
    for name in "abcd":
        await cache.get(name)
    assert lookup.queries == 4
    await cache.get("a")  # the oldest entry made room for "d"
    assert lookup.queries == 5
