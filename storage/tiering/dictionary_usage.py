"""How many of a tenant's warm and cold bodies in one region need each dictionary.

A warm blob names its dictionary in its codec header (codec.py: byte 0 is 0x02, bytes 1-16 the
id), so each shard counts them with one GROUP BY over those 17 bytes. A cold row holds only its
blob's location, so cold bodies are counted from what demotion recorded for each pack it wrote
(`tier_pack_dictionaries`), for the packs rows of the tenant still point at: a pack keeps the
bytes of every blob it was written with, so each of its dictionaries stays needed while any row
reads from it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from storage.dedup.store import DedupStore
from storage.tiering.body_row import BodyTier
from storage.tiering.codec import BodyCodec
from storage.tiering.dictionary_records import pack_dictionaries

WARM_BY_DICTIONARY = f"""
SELECT encode(substring(warm_body from 2 for 16), 'hex') AS dict_id, count(*) AS bodies
FROM dedup_events
WHERE tenant_id = $1 AND body_tier = {BodyTier.WARM:d}
  AND get_byte(warm_body, 0) = {int(BodyCodec.ZSTD_DICT)}
GROUP BY 1
"""
REFERENCED_PACKS = f"""
SELECT DISTINCT cold_pack_id FROM dedup_events
WHERE tenant_id = $1 AND body_tier = {BodyTier.COLD:d}
"""


@dataclass(frozen=True)
class DictionaryUsage:
    """Per dictionary id, the tenant's warm bodies that need it and the blobs that need it in
    the cold packs still pointed at."""

    warm: Counter[str] = field(default_factory=Counter)
    cold: Counter[str] = field(default_factory=Counter)

    def ids(self) -> set[str]:
        """Every dictionary some body needs."""
        return set(self.warm) | set(self.cold)


async def dictionary_usage(dedup: DedupStore, tenant: str) -> DictionaryUsage:
    """The tenant's bodies by the dictionary they need in the region of `dedup`.

    Raises the driver's error of the first database that fails.
    """
    shards = [dedup.pools.shards[shard] for shard in dedup.route.read_shards]
    warm_rows, pack_rows = await asyncio.gather(
        asyncio.gather(*(pool.fetch(WARM_BY_DICTIONARY, tenant) for pool in shards)),
        asyncio.gather(*(pool.fetch(REFERENCED_PACKS, tenant) for pool in shards)),
    )
    usage = DictionaryUsage()
    for rows in warm_rows:
        for row in rows:
            usage.warm[row["dict_id"]] += int(row["bodies"])
    referenced = {row["cold_pack_id"] for rows in pack_rows for row in rows}
    recorded = await pack_dictionaries(dedup.pools.control, tenant)
    for pack_id in referenced:
        usage.cold.update(recorded.get(pack_id, {}))
    return usage
