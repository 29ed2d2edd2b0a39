"""The asyncpg pools of one region's dedup store: its control database and every shard.

Pools are created and closed here and nowhere else. Each shard connection gets, once, the
session-local staging table `apply` copies a batch into (see storage/dedup/apply.py); it lives as
long as the connection, and `ON COMMIT DELETE ROWS` empties it after every transaction.
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
"""Called with each new asyncpg connection, after the store's own set-up (tests use it to attach
query loggers)."""

CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS dedup_staging (
    ord            integer NOT NULL,
    tenant_id      text COLLATE "C" NOT NULL,
    event_id       text COLLATE "C" NOT NULL,
    hlc            bigint NOT NULL,
    region         text COLLATE "C" NOT NULL,
    node           text COLLATE "C" NOT NULL,
    seq            bigint NOT NULL,
    digest         bytea NOT NULL,
    event          bytea NOT NULL,
    accepted_at_ms bigint NOT NULL
) ON COMMIT DELETE ROWS
"""

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

        async def init_shard(conn: Any) -> None:
            await conn.execute(CREATE_STAGING)
            if init is not None:
                await init(conn)

        async def keep_session(conn: Any) -> None:
            # Nothing to undo: the store sets no session state but the staging table, which must
            # outlive the checkout. Skipping asyncpg's default reset (advisory unlock, CLOSE ALL,
            # UNLISTEN, RESET ALL) saves a round trip per shard per batch; an open transaction
            # is still rolled back by the pool before this runs.
            return None

        async def init_control(conn: Any) -> None:
            if init is not None:
                await init(conn)

        dsns = [region.control_dsn, *region.shard_dsns]
        inits = [init_control] + [init_shard] * len(region.shard_dsns)
        results = await asyncio.gather(
            *(
                asyncpg.create_pool(
                    dsn, min_size=min_size, max_size=max_size, init=hook, reset=keep_session
                )
                for dsn, hook in zip(dsns, inits, strict=True)
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
        await asyncio.gather(self.control.close(), *(pool.close() for pool in self.shards))
