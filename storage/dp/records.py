"""The items an export reads: one per event of the tenant in a region's dedup store.

Every shard of the read ring is walked in one read-only REPEATABLE READ snapshot each. Only a
row on the shard the route reads its key from counts: while a re-sharding has not cleaned up, an
old shard still holds copies of keys that moved, and counting those would count an event twice
(the privacy unit is one event). `type`, `occurred_at` and the payload are in the signed body
only, which tiering may have moved warm or cold: bodies are read in whatever tier they are in
through the tiered reader (verified against the row's digest, I5), cold ones from whole packs
fetched once each, and never promoted (an export is a read that must not move data).
"""

from __future__ import annotations

from typing import Any

from ledger.config import RegionConfig
from ledger.dp_query import DpQuery
from ledger.dp_records import event_item
from storage.dedup.routing import Route
from storage.dedup.store import DedupStore
from storage.tiering.body_row import BODY_COLUMNS, BodyRow, BodyTier
from storage.tiering.reader import TieredBodies, TierReadOptions
from storage.tiering.whole_packs import WholePacks

SELECT_TENANT_ROWS = f"""
SELECT tenant_id, event_id, region, node, seq, digest, {BODY_COLUMNS}
FROM dedup_events
WHERE tenant_id = $1
ORDER BY tenant_id, event_id
"""
TENANT_COLD_PACKS = """
SELECT cold_pack_id, count(*) AS bodies
FROM dedup_events
WHERE tenant_id = $1 AND body_tier = 2
GROUP BY cold_pack_id
"""
_PREFETCH = 500


async def tenant_items(
    region: RegionConfig, tiering: TierReadOptions, query: DpQuery
) -> list[str | int]:
    """The item (ledger/dp_records.py) of each of `query.tenant`'s events in `region` that has
    one. Raises BodyArchived when a body's pack waits for a restore, TieredReadError when a body
    fails its checks, DedupUnavailableError when a database does not answer."""
    async with await DedupStore.open(region) as store:
        route = store.route
        bodies = TieredBodies.open(region, store.pools.control, tiering)
        items: list[str | int] = []
        for shard in route.read_shards:
            items.extend(await _shard_items(store.pools.shards[shard], shard, route, bodies, query))
        return items


async def _shard_items(
    pool: Any, shard: int, route: Route, bodies: TieredBodies, query: DpQuery
) -> list[str | int]:
    items: list[str | int] = []
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        needed = {
            (query.tenant, row["cold_pack_id"]): int(row["bodies"])
            for row in await conn.fetch(TENANT_COLD_PACKS, query.tenant)
        }
        packs = WholePacks(bodies.store, needed)
        async for record in conn.cursor(SELECT_TENANT_ROWS, query.tenant, prefetch=_PREFETCH):
            if route.read_shard(query.tenant, record["event_id"]) != shard:
                continue  # a copy left behind by a re-sharding: its key is read elsewhere
            row = BodyRow.from_record(record)
            if row.tier is BodyTier.HOT:
                assert row.event is not None  # the shard's CHECK: a hot row has its event
                body = row.event
            else:
                body = await bodies.body(row, packs)
            item = event_item(query, body)
            if item is not None:
                items.append(item)
    return items
