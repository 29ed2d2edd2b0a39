"""The plans of demotion's conditional UPDATEs on a shard without statistics (a bulk load that no
ANALYZE has seen yet): each must reach the tenant's rows through the primary key, row by row of the
batch, never by reading the tenant's rows in the tier (storage/tiering/demotion_rows.py). On a
shard this size a scan of the table is never the cheaper plan, so any scan found is one the
missing statistics chose."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from ledger.config import RegionConfig
from storage.dedup import migrate_region
from storage.tiering.demotion_rows import TO_COLD, TO_WARM
from storage.tiering.pack_rewrite import MOVE_ROWS
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region

pytestmark = pytest.mark.timeout(120)

TENANT = "plan-tenant"
TENANT_ROWS = 200_000
BATCH = [f"e{i:06d}" for i in range(3_000, 3_500)]
"""A batch as demotion moves one: 500 rows in key order."""

BULK_LOAD = """
INSERT INTO dedup_events (tenant_id, event_id, hlc, region, node, seq, digest, event,
                          accepted_at_ms)
SELECT $1, 'e' || lpad(i::text, 6, '0'), i, 'us', 'n1', i, sha256(i::text::bytea),
       convert_to(repeat('x', 400), 'UTF8'), 0
FROM generate_series(0, $2 - 1) AS i
"""


@pytest.fixture(scope="module")
async def region(running_stack: RunningStack) -> RegionConfig:
    config = await fresh_region(running_stack, "tier_plan", shards=1)
    await migrate_region(config)
    return config


def nodes_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """`plan` and every node below it."""
    return [plan, *(node for child in plan.get("Plans", []) for node in nodes_of(child))]


async def plan_of(conn: Any, statement: str, *arguments: object) -> dict[str, Any]:
    answer = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *arguments)
    plan: dict[str, Any] = json.loads(answer)[0]["Plan"]
    return plan


async def test_conditional_updates_look_rows_up_by_key_without_statistics(
    region: RegionConfig,
) -> None:
    n = len(BATCH)
    winners = (BATCH, ["us"] * n, ["n1"] * n, [int(e[1:]) for e in BATCH])
    conn = await asyncpg.connect(region.shard_dsns[0])
    try:
        # One transaction, rolled back: autovacuum never sees the rows, so the table has none of
        # the statistics a live shard gathers only some time after a bulk load.
        async with conn.transaction():
            await conn.execute(BULK_LOAD, TENANT, TENANT_ROWS)
            analyzed = await conn.fetchval(
                "SELECT reltuples FROM pg_class WHERE relname = 'dedup_events'"
            )
            assert analyzed <= 0
            to_warm = await plan_of(conn, TO_WARM, TENANT, *winners, [b"\x00"] * n)
            to_cold = await plan_of(
                conn, TO_COLD, TENANT, "0" * 32, *winners, [0] * n, [1] * n, [b"\x00" * 32] * n
            )
            # Retention's pack rewrite moves live cold rows the same way.
            move_rows = await plan_of(
                conn, MOVE_ROWS, TENANT, "1" * 32, "0" * 32, *winners, [0] * n, [1] * n
            )
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()
    for plan in (to_warm, to_cold, move_rows):
        nodes = nodes_of(plan)
        assert not [node for node in nodes if node["Node Type"] == "Seq Scan"], plan
        key_lookups = [
            node
            for node in nodes
            if node.get("Index Name") == "dedup_events_pkey" and "event_id" in node["Index Cond"]
        ]
        assert key_lookups, plan


class _RollBack(Exception):
    """Leaves the transaction, undoing the bulk load."""
