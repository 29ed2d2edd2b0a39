"""A SHA-256 over an ordered dump of dedup state: what regions compare to prove convergence (I3).

The dump is every row of dedup_events, then every row of dedup_copies, each table in key order.
It holds nothing region-local (every column is derived from WAL records), so two regions that
applied the same records produce the same digest. The whole-region digest merges the shards' rows
into one key order, so it does not depend on how many shards there are or which holds what:
a region with two shards and one with three agree, before and after re-sharding.

Encoding, version 1: the domain string DUMP_DOMAIN, then per row a one-byte table tag (E or C)
followed by each column as a 4-byte big-endian length and the column's bytes (text as UTF-8,
integers as 8-byte big-endian two's complement, bytea as is), columns in the order of the
queries below.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

DUMP_DOMAIN = b"geoledger.dedup-dump.v1\x00"

DUMP_EVENTS = """
SELECT tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms
FROM dedup_events
ORDER BY tenant_id, event_id
"""
DUMP_COPIES = """
SELECT tenant_id, event_id, region, node, seq, hlc, digest
FROM dedup_copies
ORDER BY tenant_id, event_id, region, node, seq
"""
_TABLES = ((b"E", DUMP_EVENTS, 2), (b"C", DUMP_COPIES, 5))  # tag, query, key columns
_PREFETCH = 500


def encode_row(tag: bytes, row: Sequence[Any]) -> bytes:
    """One row of the dump, as described in the module docstring."""
    parts = [tag]
    for value in row:
        if isinstance(value, str):
            data = value.encode()
        elif isinstance(value, int):
            data = value.to_bytes(8, "big", signed=True)
        else:
            data = bytes(value)
        parts.append(len(data).to_bytes(4, "big"))
        parts.append(data)
    return b"".join(parts)


async def _rows(conn: Any, query: str) -> AsyncIterator[tuple[Any, ...]]:
    async for record in conn.cursor(query, prefetch=_PREFETCH):
        yield tuple(record)


async def _merge(
    streams: list[AsyncIterator[tuple[Any, ...]]], key: Callable[[tuple[Any, ...]], Any]
) -> AsyncIterator[tuple[Any, ...]]:
    """Merge streams that are each sorted by `key` into one sorted stream.

    Text sorts the same in Python (code points) and under COLLATE "C" (UTF-8 bytes)."""
    heap: list[tuple[Any, int, tuple[Any, ...]]] = []
    for index, stream in enumerate(streams):
        first = await anext(stream, None)
        if first is not None:
            heap.append((key(first), index, first))
    heapq.heapify(heap)
    while heap:
        _, index, row = heap[0]
        yield row
        following = await anext(streams[index], None)
        if following is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (key(following), index, following))


def _key_prefix(columns: int) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    return lambda row: row[:columns]


async def _snapshots(stack: AsyncExitStack, pools: Sequence[Any]) -> list[Any]:
    """One connection per shard, each inside a read-only REPEATABLE READ transaction, so both
    tables of a shard are read from one snapshot."""
    conns = []
    for pool in pools:
        conn = await stack.enter_async_context(pool.acquire())
        await stack.enter_async_context(
            conn.transaction(isolation="repeatable_read", readonly=True)
        )
        conns.append(conn)
    return conns


async def shard_digest(pool: Any) -> str:
    """The hex SHA-256 of one shard's dump."""
    return await merged_digest([pool])


async def merged_digest(pools: Sequence[Any]) -> str:
    """The hex SHA-256 of the dump of all `pools` together, rows merged into one key order."""
    digest = hashlib.sha256(DUMP_DOMAIN)
    async with AsyncExitStack() as stack:
        conns = await _snapshots(stack, pools)
        for tag, query, key_columns in _TABLES:
            streams = [_rows(conn, query) for conn in conns]
            async for row in _merge(streams, key=_key_prefix(key_columns)):
                digest.update(encode_row(tag, row))
    return digest.hexdigest()
