"""A shard on the schema before 0004 (the apply as a function), with data in it, migrates forward:
every row and the dump digest stay, and applies after the upgrade give the same state as on a
shard that was created on the new schema."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import pytest

from ledger.config import RegionConfig
from storage.dedup import DedupRecord, DedupShardError, DedupStore, migrate_region
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region, migrate_shards_before, record

pytestmark = pytest.mark.timeout(120)

FUNCTION_VERSION = 4
TABLES = {
    "dedup_events": "tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms",
    "dedup_copies": "tenant_id, event_id, region, node, seq, hlc, digest",
    "applied_positions": "stream, seq",
}


def history() -> list[DedupRecord]:
    """Winners, duplicates, conflicts and displacements over a few keys from two regions."""
    records = []
    for i in range(40):
        key = f"k{i % 15:02d}"
        region, node = ("eu", "n1") if i % 3 else ("us", "n2")
        hlc, content = 1_000 - i * 7 % 50, f"c{i % 4}"
        records.append(record(key, hlc=hlc, region=region, node=node, seq=i + 1, content=content))
    return records


async def rows_of(region: RegionConfig) -> list[list[tuple[object, ...]]]:
    """Every row of every dedup table, shard by shard, in key order."""
    found = []
    for dsn in region.shard_dsns:
        conn = await asyncpg.connect(dsn)
        try:
            for table, columns in TABLES.items():
                rows = await conn.fetch(f"SELECT {columns} FROM {table} ORDER BY {columns}")
                found.append([tuple(r) for r in rows])
        finally:
            await conn.close()
    return found


async def copy_rows(source: RegionConfig, target: RegionConfig) -> None:
    """Make `target`'s shards hold exactly `source`'s rows (same ring size)."""
    for from_dsn, to_dsn in zip(source.shard_dsns, target.shard_dsns, strict=True):
        reader, writer = await asyncpg.connect(from_dsn), await asyncpg.connect(to_dsn)
        try:
            for table, columns in TABLES.items():
                rows = await reader.fetch(f"SELECT {columns} FROM {table}")
                await writer.copy_records_to_table(
                    table, records=[tuple(r) for r in rows], columns=columns.split(", ")
                )
        finally:
            await reader.close()
            await writer.close()


async def apply_all(region: RegionConfig, records: Sequence[DedupRecord]) -> str:
    async with await DedupStore.open(region) as store:
        for start in range(0, len(records), 7):
            batch = records[start : start + 7]
            await store.apply(batch, stream="eu/n1", through_seq=batch[-1].seq)
        return await store.dump_digest_total()


async def test_a_shard_with_data_migrates_forward_keeping_every_row_and_the_digest(
    running_stack: RunningStack,
) -> None:
    current = await fresh_region(running_stack, "dd_upg_new")
    await migrate_region(current)
    earlier, later = history()[:25], history()[25:]
    digest_before = await apply_all(current, earlier)
    previous = await fresh_region(running_stack, "dd_upg_old")
    await migrate_shards_before(previous, FUNCTION_VERSION)
    await copy_rows(current, previous)
    rows_before = await rows_of(previous)
    assert sum(len(rows) for rows in rows_before) > len(earlier)  # copies and positions too

    # Before the upgrade the store says what is missing and writes nothing.
    with pytest.raises(DedupShardError, match="geoledger db migrate"):
        await apply_all(previous, later)
    assert await rows_of(previous) == rows_before

    report = await migrate_region(previous)

    assert [db.applied for db in report.databases[1:]] == [
        [
            "0004_shard_dedup_apply_function.sql",
            "0006_shard_body_tiers.sql",
            "0007_shard_retention_horizons.sql",
        ]
    ] * len(previous.shard_dsns)
    assert await rows_of(previous) == rows_before
    async with await DedupStore.open(previous) as store:
        assert await store.dump_digest_total() == digest_before
    # Both shards apply the rest alike: same dump, same rows.
    assert await apply_all(previous, later) == await apply_all(current, later)
    assert await rows_of(previous) == await rows_of(current)
