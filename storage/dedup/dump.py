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

The `event` column is the winner's body whatever tier it is in (tiering is physical only), so a
dump does not change when bodies move: a warm body is decoded, a cold one read from its pack, each
verified against the row's digest (storage/tiering/reader.py). Cold bodies come from whole packs,
each fetched once per dump (storage/tiering/whole_packs.py), not one range GET per row.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import asyncpg

from storage.dedup.errors import DedupError
from storage.tiering.body_row import BodyRow, BodyTier
from storage.tiering.read_errors import TieredBodiesMissingError
from storage.tiering.reader import ColdBlobs, TieredBodies
from storage.tiering.whole_packs import WholePacks

DUMP_DOMAIN = b"geoledger.dedup-dump.v1\x00"

# The dump's columns, then where the body is (BodyRow's columns but `event`, already selected):
# `event` is replaced by the body of whatever tier it is in. Every column of a key row, so
# re-sharding copies these (storage/dedup/reshard/rows.py).
EVENT_NAMES = [
    "tenant_id",
    "event_id",
    "hlc",
    "region",
    "node",
    "seq",
    "digest",
    "event",
    "accepted_at_ms",
    "body_tier",
    "warm_body",
    "cold_pack_id",
    "cold_offset",
    "cold_length",
    "cold_sha256",
]
DUMP_EVENTS = f"""
SELECT {", ".join(EVENT_NAMES)}
FROM dedup_events
ORDER BY tenant_id, event_id
"""
_EVENT_COLUMNS = 9  # what the dump encodes; body_tier follows
_EVENT_BODY = 7
COLD_PACKS = """
SELECT tenant_id, cold_pack_id, count(*) AS bodies
FROM dedup_events
WHERE body_tier = 2
GROUP BY tenant_id, cold_pack_id
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


class _Bodies:
    """The body of each dumped row from its tier: hot as is, lower ones verified through the
    reader, cold ones from packs fetched whole once per dump."""

    def __init__(self, bodies: TieredBodies | None, packs: ColdBlobs | None) -> None:
        self._bodies = bodies
        self._packs = packs

    async def row(self, selected: tuple[Any, ...]) -> tuple[Any, ...]:
        """The dump's columns of a row selected by DUMP_EVENTS, `event` the body of any tier."""
        columns = selected[:_EVENT_COLUMNS]
        if selected[_EVENT_COLUMNS] == BodyTier.HOT:
            return columns
        row = BodyRow.from_record(dict(zip(EVENT_NAMES, selected, strict=True)))
        if self._bodies is None or self._packs is None:
            raise TieredBodiesMissingError(row.tenant_id, row.event_id, row.tier.label)
        body = await self._bodies.body(row, self._packs)
        return (*columns[:_EVENT_BODY], body, *columns[_EVENT_BODY + 1 :])


async def _cold_packs(conns: Sequence[Any]) -> dict[tuple[str, str], int]:
    """How many bodies the snapshots hold in each (tenant, pack), over every shard."""
    needed: dict[tuple[str, str], int] = {}
    for conn in conns:
        for row in await conn.fetch(COLD_PACKS):
            name = (row["tenant_id"], row["cold_pack_id"])
            needed[name] = needed.get(name, 0) + int(row["bodies"])
    return needed


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


async def shard_digest(pool: Any, bodies: TieredBodies | None) -> str:
    """The hex SHA-256 of one shard's dump."""
    return await merged_digest([pool], bodies)


async def merged_digest(pools: Sequence[Any], bodies: TieredBodies | None) -> str:
    """The hex SHA-256 of the dump of all `pools` together, rows merged into one key order.

    Bodies below hot are read through `bodies`; without it, such a row raises
    TieredBodiesMissingError. Raises TieredReadError for a body that fails its checks, DedupError
    when a shard lacks the body tier columns (migration 0006).
    """
    digest = hashlib.sha256(DUMP_DOMAIN)
    async with AsyncExitStack() as stack:
        conns = await _snapshots(stack, pools)
        try:
            needed = await _cold_packs(conns)
        except asyncpg.UndefinedColumnError as exc:
            raise DedupError(
                f"dump: a shard has no body tier columns ({exc}); expected schema version 6 or "
                "later: run `geoledger db migrate`"
            ) from exc
        packs = WholePacks(bodies.store, needed) if bodies is not None else None
        events = _Bodies(bodies, packs)
        for tag, query, key_columns in _TABLES:
            streams = [_rows(conn, query) for conn in conns]
            async for row in _merge(streams, key=_key_prefix(key_columns)):
                encoded = await events.row(row) if tag == b"E" else row
                digest.update(encode_row(tag, encoded))
    return digest.hexdigest()
