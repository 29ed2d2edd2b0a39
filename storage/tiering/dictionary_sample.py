"""A sample of one tenant's bodies in one region, to train its zstd dictionary from: hot bodies as
they are and warm ones decoded, each checked against its row's digest (I5) before use.

Each shard of the read ring gives its share of `max_bodies`. A shard first counts the tenant's
hot and warm rows (a walk of the tenant's part of the primary key, no body read), then draws
each row with the probability that yields about twice its share (a draw, not a LIMIT, decides
which rows come, so the sample is spread over the tenant's whole key range), and its share is
picked at random from what was drawn. No other tenant's rows are read. Bodies are taken until
`max_bytes`; cold bodies are not sampled (a range GET each).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from storage.dedup.store import DedupStore
from storage.tiering.body_check import check_body
from storage.tiering.body_row import BodyTier
from storage.tiering.codec import decode, required_dictionary
from storage.tiering.dictionaries import DictionaryStore

COUNT_ROWS = f"""
SELECT count(*) FROM dedup_events
WHERE tenant_id = $1 AND body_tier IN ({BodyTier.HOT:d}, {BodyTier.WARM:d})
"""
SAMPLE_ROWS = f"""
SELECT event_id, digest, body_tier,
       CASE body_tier WHEN {BodyTier.HOT:d} THEN event ELSE warm_body END AS body
FROM dedup_events
WHERE tenant_id = $1 AND body_tier IN ({BodyTier.HOT:d}, {BodyTier.WARM:d}) AND random() < $2
LIMIT $3
"""
# Rows drawn per row wanted: the draw is random, so a shard asks for more than its share.
OVERSAMPLE = 2.0


async def sample_bodies(
    dedup: DedupStore,
    dictionaries: DictionaryStore,
    tenant: str,
    *,
    max_bodies: int,
    max_bytes: int,
    max_body_bytes: int,
) -> list[bytes]:
    """Up to `max_bodies` of `tenant`'s hot and warm bodies in the region of `dedup`, of at most
    `max_bytes` in all, warm blobs decoded (to at most `max_body_bytes`) with `dictionaries`.

    Raises BodyIntegrityError or a BodyDecodeError naming the key of a body that is not its
    row's; the driver's and the object store's errors as they come.
    """
    shards = [dedup.pools.shards[shard] for shard in dedup.route.read_shards]
    share = -(-max_bodies // len(shards))
    rows_by_shard = await asyncio.gather(*(_shard_rows(pool, tenant, share) for pool in shards))
    bodies: list[bytes] = []
    total = 0
    for row in (row for rows in rows_by_shard for row in rows):
        if len(bodies) >= max_bodies:
            break
        body = await _body(dictionaries, tenant, row, max_body_bytes)
        if total + len(body) > max_bytes:
            break
        bodies.append(body)
        total += len(body)
    return bodies


async def _shard_rows(pool: Any, tenant: str, share: int) -> list[Any]:
    rows = int(await pool.fetchval(COUNT_ROWS, tenant))
    if not rows:
        return []
    probability = min(1.0, OVERSAMPLE * share / rows)
    # The LIMIT only bounds an unlucky draw; which rows are kept is random.sample's choice.
    drawn = list(await pool.fetch(SAMPLE_ROWS, tenant, probability, int(2 * OVERSAMPLE * share)))
    return random.sample(drawn, min(share, len(drawn)))


async def _body(dictionaries: DictionaryStore, tenant: str, row: Any, max_body_bytes: int) -> bytes:
    stored, digest = bytes(row["body"]), bytes(row["digest"])
    if row["body_tier"] == BodyTier.HOT:
        body = stored
    else:
        dict_id = required_dictionary(stored)
        needed = {dict_id: await dictionaries.load(tenant, dict_id)} if dict_id else {}
        body = decode(stored, needed, max_body_bytes)
    check_body(tenant, row["event_id"], body, digest)
    return body
