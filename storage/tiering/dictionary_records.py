"""The record of a region's tenant dictionaries in its control database (migration 0008): each
dictionary trained, with its version (the highest is the tenant's current one) and how it was
measured, and which dictionaries each cold pack's blobs need.

Warm bodies need no record: a warm blob's codec header names its dictionary, and
`storage.tiering.dictionary_usage` counts them from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Re-recording a dictionary already known (trained again from the same bodies: same bytes, same
# id) makes it current again, under a new version.
RECORD_DICTIONARY = """
INSERT INTO tier_dictionaries AS d (tenant_id, dict_id, version, dict_bytes, sample_bodies,
    sample_bytes, heldout_bodies, ratio_zstd, ratio_dict)
VALUES ($1, $2,
    (SELECT coalesce(max(version), 0) + 1 FROM tier_dictionaries WHERE tenant_id = $1),
    $3, $4, $5, $6, $7, $8)
ON CONFLICT (tenant_id, dict_id) DO UPDATE
SET version = EXCLUDED.version, dict_bytes = EXCLUDED.dict_bytes,
    sample_bodies = EXCLUDED.sample_bodies, sample_bytes = EXCLUDED.sample_bytes,
    heldout_bodies = EXCLUDED.heldout_bodies, ratio_zstd = EXCLUDED.ratio_zstd,
    ratio_dict = EXCLUDED.ratio_dict, created_at = now()
RETURNING version
"""
SELECT_CURRENT = """
SELECT dict_id FROM tier_dictionaries WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1
"""
SELECT_ALL = """
SELECT dict_id, version, dict_bytes, sample_bodies, sample_bytes, heldout_bodies, ratio_zstd,
       ratio_dict, created_at
FROM tier_dictionaries WHERE tenant_id = $1 ORDER BY version
"""
RECORD_PACK = """
INSERT INTO tier_pack_dictionaries (tenant_id, pack_id, dict_id, bodies)
SELECT $1, $2, m.dict_id, m.bodies FROM unnest($3::text[], $4::int[]) AS m(dict_id, bodies)
ON CONFLICT DO NOTHING
"""
SELECT_PACKS = """
SELECT pack_id, dict_id, bodies FROM tier_pack_dictionaries WHERE tenant_id = $1
"""
FORGET_PACKS = """
DELETE FROM tier_pack_dictionaries WHERE tenant_id = $1 AND pack_id = ANY ($2::text[])
"""


@dataclass(frozen=True)
class DictionaryRecord:
    """A dictionary trained for a tenant in one region: its size, the sample it was trained from
    (bodies and bytes, of which `heldout_bodies` were kept out of training to measure it), the
    compression ratio of those held-out bodies with plain zstd and with it, and its version."""

    dict_id: str
    version: int
    dict_bytes: int
    sample_bodies: int
    sample_bytes: int
    heldout_bodies: int
    ratio_zstd: float
    ratio_dict: float
    created_at: datetime | None = None


async def record_dictionary(db: Any, tenant: str, record: DictionaryRecord) -> int:
    """Record `record` (its version ignored) as the tenant's current dictionary on `db` (an
    asyncpg pool or connection of a control database); return the version it got."""
    version = await db.fetchval(
        RECORD_DICTIONARY,
        tenant,
        record.dict_id,
        record.dict_bytes,
        record.sample_bodies,
        record.sample_bytes,
        record.heldout_bodies,
        record.ratio_zstd,
        record.ratio_dict,
    )
    return int(version)


async def current_dictionary(db: Any, tenant: str) -> str | None:
    """The id of the tenant's current dictionary on `db`; None before its first training."""
    dict_id = await db.fetchval(SELECT_CURRENT, tenant)
    return None if dict_id is None else str(dict_id)


async def list_dictionaries(db: Any, tenant: str) -> list[DictionaryRecord]:
    """Every dictionary recorded for the tenant on `db`, oldest version first."""
    return [DictionaryRecord(**dict(row)) for row in await db.fetch(SELECT_ALL, tenant)]


async def record_pack_dictionaries(
    db: Any, tenant: str, pack_id: str, bodies_by_dictionary: Mapping[str, int]
) -> None:
    """Record how many blobs of pack `pack_id` need each dictionary (a rebuilt pack, same id,
    records nothing new)."""
    if bodies_by_dictionary:
        ids = sorted(bodies_by_dictionary)
        await db.execute(RECORD_PACK, tenant, pack_id, ids, [bodies_by_dictionary[i] for i in ids])


async def forget_pack_dictionaries(db: Any, tenant: str, pack_ids: Sequence[str]) -> None:
    """Drop what was recorded of packs that are deleted (retention: storage/tiering/expire.py)."""
    if pack_ids:
        await db.execute(FORGET_PACKS, tenant, list(pack_ids))


async def pack_dictionaries(db: Any, tenant: str) -> dict[str, dict[str, int]]:
    """Per pack of the tenant, the blobs that need each dictionary."""
    packs: dict[str, dict[str, int]] = {}
    for row in await db.fetch(SELECT_PACKS, tenant):
        packs.setdefault(row["pack_id"], {})[row["dict_id"]] = int(row["bodies"])
    return packs
