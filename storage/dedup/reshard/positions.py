"""A new shard's applied positions (applied_positions: per WAL stream, the highest seq applied
to the shard), set when a growing ring's copy is complete, and cleared again on rollback.

A region's replay watermark of a stream is the minimum over its shards, and recovery re-applies
from there. A new shard holds records from several old shards, each applied through its own
position; once the catch-up copy is done it holds every record of a stream up to the lowest of
those, so that, and no more, is what it may claim. Dual writes have raised its positions
meanwhile too; a position never goes back (GREATEST), as the dedup apply never lowers one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.dedup.read import fetch_positions

RAISE_POSITIONS = """
INSERT INTO applied_positions AS p (stream, seq)
SELECT * FROM unnest($1::text[], $2::bigint[])
ON CONFLICT (stream) DO UPDATE
SET seq = GREATEST(p.seq, excluded.seq),
    updated_at = CASE WHEN excluded.seq > p.seq THEN now() ELSE p.updated_at END
RETURNING stream, seq
"""
DELETE_POSITIONS = "DELETE FROM applied_positions"


async def seal_positions(source_pools: Sequence[Any], target_pool: Any) -> dict[str, int]:
    """Raise the target shard's position of every stream a source shard has to the minimum over
    `source_pools` (0 where a source has none); return the target's positions of those streams
    as written. Run once the catch-up copy into the target is done. Requires a source."""
    if not source_pools:
        raise ValueError("expected at least one source shard, got none")
    held = [await fetch_positions(pool) for pool in source_pools]
    streams = sorted({stream for positions in held for stream in positions})
    if not streams:
        return {}
    lowest = [min(positions.get(stream, 0) for positions in held) for stream in streams]
    async with target_pool.acquire() as conn:
        rows = await conn.fetch(RAISE_POSITIONS, streams, lowest)
    return {row["stream"]: int(row["seq"]) for row in rows}


async def clear_positions(pool: Any) -> int:
    """Delete every position of a shard (rollback of a growing ring: a new shard is left as it
    was before, holding no stream); return how many there were."""
    async with pool.acquire() as conn:
        status = await conn.execute(DELETE_POSITIONS)
    return int(status.split()[-1])
