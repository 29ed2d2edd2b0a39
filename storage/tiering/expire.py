"""Expiry of one tenant's records below its retention horizon on one dedup shard, one batch at a
time, in every tier (ARCHITECTURE §3 "Tiering": retention is convergent).

The caller records the horizon in every shard of the region first (storage/tiering/horizons.py),
so from then on the dedup apply refuses anything below it and nothing deleted here comes back. A
batch walks the tenant's winners in key order from a keyset checkpoint (like demotion), and:
1. deletes the cold packs of the page's expired winners that no winner at or above the horizon
   still points at, on any shard of the region (a re-sharding may have split a pack's rows),
   then what the control database recorded of them (`forget_packs`: the dictionaries their
   blobs needed); whole packs only: a pack that still holds a live body is rewritten without
   its dead blobs once every shard's batches are done (storage/tiering/pack_rewrite.py);
2. then, in one statement, deletes the page's winners below the horizon (hot, warm or cold
   alike: the row is the index of its body) and every copy below the horizon whose event id falls
   in the page's key range (a copy may outlive its key's winner and expire later).
Records expire one by one, by their own hlc, in both tables: a copy above the horizon outlives
its key's expired winner and stays in dedup_copies (no body). The geo check compares the union of
both tables, so a region that applied that record before the expiry (a copy) and one that applies
it after (the key's winner now) still compare equal; their dumps, which tell winners from copies,
differ for such a key until it expires too.

Packs go before rows so that a crash between the two leaves rows whose retry finds the same
packs again (deleting a missing object is no error); the other order could leak an object no row
names any more. A read of an expired cold row in that moment fails as any missing body does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.objectstore import ObjectStore
from storage.tiering.packs import pack_key

EXPIRED_PACKS = """
SELECT DISTINCT cold_pack_id
FROM (
    SELECT cold_pack_id, hlc
    FROM dedup_events
    WHERE tenant_id = $1 AND event_id > $2
    ORDER BY event_id
    LIMIT $4
) AS page
WHERE hlc < $3 AND cold_pack_id IS NOT NULL
"""
LIVE_PACKS = """
SELECT DISTINCT cold_pack_id
FROM dedup_events
WHERE tenant_id = $1 AND cold_pack_id = ANY ($2::text[]) AND hlc >= $3
"""
# The page is read again by the DELETE: whatever changed since step 1 is judged as it is now.
# A copy's range ends at the page's last key, or is open when the page is the tenant's last.
DELETE_PAGE = """
WITH page AS (
    SELECT event_id
    FROM dedup_events
    WHERE tenant_id = $1 AND event_id > $2
    ORDER BY event_id
    LIMIT $4
),
bounds AS (
    SELECT max(event_id) AS last, count(*) < $4 AS final FROM page
),
winners AS (
    DELETE FROM dedup_events d
    USING page p
    WHERE d.tenant_id = $1 AND d.event_id = p.event_id AND d.hlc < $3
    RETURNING d.event_id
),
copies AS (
    DELETE FROM dedup_copies c
    USING bounds b
    WHERE c.tenant_id = $1 AND c.event_id > $2 AND (b.final OR c.event_id <= b.last)
      AND c.hlc < $3
    RETURNING c.event_id
)
SELECT (SELECT last FROM bounds) AS last,
       (SELECT final FROM bounds) AS final,
       (SELECT count(*) FROM page) AS scanned,
       (SELECT count(*) FROM winners) AS winners,
       (SELECT count(*) FROM copies) AS copies
"""


PackForgetter = Callable[[str, Sequence[str]], Awaitable[None]]
"""Drops what is recorded of a tenant's deleted packs: (tenant, pack ids)."""


@dataclass(frozen=True)
class ExpiryBatch:
    """What one batch did: winners scanned, winners and copies deleted, pack objects deleted, and
    where the next batch starts (None: the shard has nothing left for this tenant)."""

    scanned: int
    winners: int
    copies: int
    packs: int
    next_after: str | None


async def expire_batch(
    shard: Any,
    region_shards: Sequence[Any],
    store: ObjectStore,
    tenant: str,
    horizon_hlc: int,
    after: str,
    limit: int,
    forget_packs: PackForgetter,
) -> ExpiryBatch:
    """Delete `tenant`'s records below `horizon_hlc` among the `limit` winners after checkpoint
    `after` on `shard` (an asyncpg pool), their copies in that key range, and the packs only they
    used (`region_shards`: every shard of the region's ring, `store`: its object store).

    Requires the horizon recorded on every shard of the region already. Re-running a batch
    deletes nothing more. asyncpg and object store errors propagate as they come.
    """
    candidates = [
        row["cold_pack_id"]
        for row in await shard.fetch(EXPIRED_PACKS, tenant, after, horizon_hlc, limit)
    ]
    live: set[str] = set()
    if candidates:
        for pool in region_shards:
            rows = await pool.fetch(LIVE_PACKS, tenant, candidates, horizon_hlc)
            live.update(row["cold_pack_id"] for row in rows)
    dead = [pack_id for pack_id in candidates if pack_id not in live]
    for pack_id in dead:
        await store.delete(pack_key(tenant, pack_id))
    await forget_packs(tenant, dead)
    row = await shard.fetchrow(DELETE_PAGE, tenant, after, horizon_hlc, limit)
    return ExpiryBatch(
        scanned=int(row["scanned"]),
        winners=int(row["winners"]),
        copies=int(row["copies"]),
        packs=len(dead),
        next_after=None if row["final"] else row["last"],
    )
