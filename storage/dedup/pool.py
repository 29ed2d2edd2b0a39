"""The asyncpg pools of one region's dedup store: its control database and every shard.

Pools are created and closed here and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import asyncpg

from ledger.config import RegionConfig
from storage.dedup.errors import DedupUnavailableError

ConnectionInit = Callable[[Any], Awaitable[None]]
"""Called with each new asyncpg connection (tests use it to attach query loggers)."""

DEFAULT_MIN_SIZE = 1
DEFAULT_MAX_SIZE = 4


def describe_dsn(dsn: str) -> str:
    """`host:port/database` of a DSN, for messages: never the user or password."""
    parsed = urlparse(dsn)
    return f"{parsed.hostname}:{parsed.port or 5432}{parsed.path}"


@dataclass(frozen=True)
class ShardPools:
    """One pool for the control database and one per configured shard, in `shard_dsns` order."""

    control: Any
    shards: tuple[Any, ...]

    @classmethod
    async def open(
        cls,
        region: RegionConfig,
        *,
        min_size: int = DEFAULT_MIN_SIZE,
        max_size: int = DEFAULT_MAX_SIZE,
        init: ConnectionInit | None = None,
    ) -> ShardPools:
        """Connect to the control database and every shard; on any failure close what opened."""

        async def keep_session(conn: Any) -> None:
            # Nothing to undo: the store sets no session state. Skipping asyncpg's default reset
            # (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) saves a round trip per shard per
            # batch; an open transaction is still rolled back by the pool before this runs.
            return None

        dsns = [region.control_dsn, *region.shard_dsns]
        results = await asyncio.gather(
            *(
                asyncpg.create_pool(
                    dsn,
                    min_size=min_size,
                    max_size=max_size,
                    init=init,
                    reset=keep_session,
                )
                for dsn in dsns
            ),
            return_exceptions=True,
        )
        pools = [pool for pool in results if not isinstance(pool, BaseException)]
        for dsn, result in zip(dsns, results, strict=True):
            if isinstance(result, BaseException):
                await asyncio.gather(*(pool.close() for pool in pools))
                raise DedupUnavailableError(f"connect to {describe_dsn(dsn)}: {result}") from result
        return cls(control=pools[0], shards=tuple(pools[1:]))

    async def close(self) -> None:
        """Close the control pool and every shard pool."""
        await asyncio.gather(self.control.close(), *(pool.close() for pool in self.shards))


class LazyPool:
    """A small pool of one database, opened on first use, for readers that must report an
    unreachable database rather than fail on it (the ops API): a failed open raises
    DedupUnavailableError naming the database and is tried again by the next `get`."""

    def __init__(self, dsn: str, *, timeout_s: float, max_size: int = 2) -> None:
        self._dsn = dsn
        self._timeout_s = timeout_s
        self._max_size = max_size
        self._pool: Any = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """`host:port/database` of the database, for messages."""
        return describe_dsn(self._dsn)

    async def get(self) -> Any:
        """The open pool; raises DedupUnavailableError when the database cannot be reached."""
        async with self._lock:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=1,
                        max_size=self._max_size,
                        timeout=self._timeout_s,
                        command_timeout=self._timeout_s,
                    )
                except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                    raise DedupUnavailableError(f"connect to {self.name}: {exc}") from exc
            return self._pool

    async def close(self) -> None:
        """Close the pool if it was opened."""
        async with self._lock:
            if self._pool is not None:
                await self._pool.close()
                self._pool = None
