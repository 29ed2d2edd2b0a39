"""Retired WAL streams in the control databases (`retired_streams`): a stream whose node left
for good, complete through its last seq. `geoledger ingest retire` writes the mark into every
region's control database once the stream's last segment is committed in every ship target;
status, replay progress and a node's start read it from their own region's database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from storage.control_regions import in_every_region

TABLE = "retired_streams"

INSERT_RETIRED = """
INSERT INTO retired_streams (stream, last_seq) VALUES ($1, $2)
ON CONFLICT (stream) DO UPDATE SET last_seq = GREATEST(retired_streams.last_seq, EXCLUDED.last_seq)
RETURNING last_seq, (extract(epoch FROM retired_at) * 1000)::bigint AS retired_at_ms
"""
SELECT_RETIRED = """
SELECT stream, last_seq, (extract(epoch FROM retired_at) * 1000)::bigint AS retired_at_ms
FROM retired_streams ORDER BY stream
"""
DELETE_RETIRED = "DELETE FROM retired_streams WHERE stream = $1"


@dataclass(frozen=True, slots=True)
class RetiredStream:
    """A stream complete through `last_seq` (0: its node never acknowledged an event)."""

    stream: str
    last_seq: int
    retired_at_ms: int


async def mark_retired(
    control_dsns: Mapping[str, str], stream: str, last_seq: int
) -> tuple[dict[str, RetiredStream], dict[str, str]]:
    """Record `stream` as retired through `last_seq` in each region's control database (region ->
    DSN); return the marks written and, per region that failed, why. Idempotent: a re-run after
    a partial failure completes it, and a mark never moves back."""
    work = {region: _mark_one(dsn, stream, last_seq) for region, dsn in control_dsns.items()}
    return await in_every_region(work, TABLE)


async def read_retired(control_dsn: str) -> dict[str, RetiredStream]:
    """Every stream retired in the region whose control database is `control_dsn`."""
    conn = await asyncpg.connect(control_dsn)
    try:
        rows = await conn.fetch(SELECT_RETIRED)
    finally:
        await conn.close()
    return {
        row["stream"]: RetiredStream(row["stream"], row["last_seq"], row["retired_at_ms"])
        for row in rows
    }


async def unmark_retired(
    control_dsns: Mapping[str, str], stream: str
) -> tuple[dict[str, None], dict[str, str]]:
    """Remove `stream`'s mark from each region's control database (its node came back with its
    WAL, so the stream goes on); the results and failures as `mark_retired` gives them."""
    work = {region: _unmark_one(dsn, stream) for region, dsn in control_dsns.items()}
    return await in_every_region(work, TABLE)


async def _mark_one(dsn: str, stream: str, last_seq: int) -> RetiredStream:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(INSERT_RETIRED, stream, last_seq)
    finally:
        await conn.close()
    assert row is not None  # INSERT ... RETURNING always returns the row
    return RetiredStream(stream, row["last_seq"], row["retired_at_ms"])


async def _unmark_one(dsn: str, stream: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(DELETE_RETIRED, stream)
    finally:
        await conn.close()
