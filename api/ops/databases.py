"""The ops API's connections: per configured region, a lazily opened pool of its control database
and of each configured shard, so one unreachable database is reported, not fatal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from ledger.config import RegionConfig
from storage.dedup.errors import DedupError
from storage.dedup.pool import LazyPool
from storage.dedup.routing import Route, read_current_route

_T = TypeVar("_T")


@dataclass(frozen=True)
class Outcome(Generic[_T]):
    """What asking one database gave: its answer, or the error that stood in for it."""

    value: _T | None
    error: str | None


class RegionDatabases:
    """One region's control database and configured shards (in `shard_dsns` order)."""

    def __init__(self, name: str, region: RegionConfig, timeout_s: float) -> None:
        self.name = name
        self.control = LazyPool(region.control_dsn, timeout_s=timeout_s)
        self.shards = tuple(LazyPool(dsn, timeout_s=timeout_s) for dsn in region.shard_dsns)

    async def route(self) -> Route:
        """The route in force. Raises DedupError (unreachable, no route) and asyncpg errors."""
        pool = await self.control.get()
        async with pool.acquire() as conn:
            return await read_current_route(conn)

    async def on_shard(self, shard: int, read: Callable[[Any], Awaitable[_T]]) -> Outcome[_T]:
        """`read(pool)` on one shard, its failure turned into the outcome's error."""
        if not 0 <= shard < len(self.shards):
            return Outcome(None, f"shard {shard} is not configured ({len(self.shards)} are)")
        return await outcome_of(self._read(self.shards[shard], read))

    async def close(self) -> None:
        await asyncio.gather(self.control.close(), *(pool.close() for pool in self.shards))

    @staticmethod
    async def _read(pool: LazyPool, read: Callable[[Any], Awaitable[_T]]) -> _T:
        return await read(await pool.get())


async def outcome_of(work: Awaitable[_T]) -> Outcome[_T]:
    """The answer of `work`, or its error as a message: what the database said, never a 5xx."""
    try:
        return Outcome(await work, None)
    except (DedupError, OSError, TimeoutError) as exc:
        return Outcome(None, str(exc))
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # A shard not migrated, a query past the timeout: name the kind, then what it said.
        return Outcome(None, f"{type(exc).__name__}: {exc}")


class OpsDatabases:
    """Every configured region's databases, in region-name order."""

    def __init__(self, regions: Mapping[str, RegionConfig], timeout_s: float) -> None:
        self.regions = tuple(
            RegionDatabases(name, regions[name], timeout_s) for name in sorted(regions)
        )

    async def close(self) -> None:
        await asyncio.gather(*(region.close() for region in self.regions))
