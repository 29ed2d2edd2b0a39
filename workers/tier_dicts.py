"""`geoledger tier train-dict` and `geoledger tier dicts`: a tenant's zstd dictionaries, one set
per region (each region trains from its own bodies and keeps the bytes in its own store).

Training samples the tenant's bodies in the region, trains and measures a dictionary on them
(storage/tiering/dictionary_training.py), stores its bytes in the region's object store, and
only then records it as the tenant's current dictionary in the region's control database, so a
current dictionary is always readable. Nothing deletes a dictionary: bodies name theirs in their
codec header, and every one stays in the store as long as it exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ledger.config import Settings
from ledger.envelope import check_tenant_id
from ledger.tier_policy import TierPolicyError, merge_policy
from storage.dedup.store import DedupStore
from storage.objectstore import open_object_store
from storage.tiering.dictionaries import DictionaryStore
from storage.tiering.dictionary_records import (
    DictionaryRecord,
    current_dictionary,
    list_dictionaries,
    record_dictionary,
)
from storage.tiering.dictionary_sample import sample_bodies
from storage.tiering.dictionary_training import train_measured
from storage.tiering.dictionary_usage import dictionary_usage
from storage.tiering.policy_store import get_override


@dataclass(frozen=True)
class TrainedDictionary:
    """A dictionary trained in one region: its record (with the version it got) and whether this
    training stored new bytes (False: the same dictionary was stored already)."""

    region: str
    record: DictionaryRecord
    stored: bool


@dataclass(frozen=True)
class DictionaryInUse:
    """A tenant's dictionary in one region and the bodies there that need it. `record` is None
    for a dictionary some body names that this region never recorded."""

    dict_id: str
    record: DictionaryRecord | None
    current: bool
    warm_bodies: int
    cold_bodies: int


def check_tenant(tenant: str) -> None:
    """Raise TierPolicyError for a malformed tenant id (the CLI's bad-input error)."""
    try:
        check_tenant_id(tenant)
    except ValueError as exc:
        raise TierPolicyError([f"tenant: {exc}"]) from None


def chosen_regions(settings: Settings, region: str | None) -> list[str]:
    """`region` alone, or every region when None; TierPolicyError for an unknown one."""
    if region is None:
        return list(settings.regions)
    if region not in settings.regions:
        raise TierPolicyError([f"region: unknown {region!r}; known: {', '.join(settings.regions)}"])
    return [region]


async def train_dictionaries(
    settings: Settings, tenant: str, region: str | None
) -> list[TrainedDictionary]:
    """Train the tenant's dictionary in `region` (every region when None), one after the other.

    Raises TierPolicyError for a bad tenant or region; DictionaryTrainingError when a region's
    sample is too small (regions trained before it keep their new dictionary, that one and the
    ones after it change nothing); database and object store errors as they come.
    """
    check_tenant(tenant)
    return [await _train(settings, tenant, name) for name in chosen_regions(settings, region)]


async def _train(settings: Settings, tenant: str, region: str) -> TrainedDictionary:
    tuning = settings.tier_dictionaries
    store = open_object_store(settings.region(region).object_store)
    dictionaries = DictionaryStore(store, settings.tier_demotion.dictionary_cache_size)
    async with await DedupStore.open(settings.region(region)) as dedup:
        override = await get_override(dedup.pools.control, tenant)
        policy, _ = merge_policy(settings.tiering, settings.tenants.get(tenant), override)
        bodies = await sample_bodies(
            dedup,
            dictionaries,
            tenant,
            max_bodies=tuning.sample_bodies,
            max_bytes=tuning.sample_bytes,
            max_body_bytes=settings.tier_demotion.max_body_bytes,
        )
        measured = await asyncio.to_thread(
            train_measured,
            bodies,
            dict_bytes=tuning.dict_bytes,
            level=policy.compression_level,
            holdout_every=tuning.holdout_every,
            min_bodies=tuning.min_sample_bodies,
        )
        # The bytes first: a recorded current dictionary is always in the store.
        stored = await dictionaries.save(tenant, measured.dictionary)
        record = DictionaryRecord(
            dict_id=measured.dictionary.dict_id,
            version=0,
            dict_bytes=len(measured.dictionary.data),
            sample_bodies=measured.sample_bodies,
            sample_bytes=measured.sample_bytes,
            heldout_bodies=measured.heldout_bodies,
            ratio_zstd=measured.ratio_zstd,
            ratio_dict=measured.ratio_dict,
        )
        version = await record_dictionary(dedup.pools.control, tenant, record)
    return TrainedDictionary(region, _with_version(record, version), stored)


def _with_version(record: DictionaryRecord, version: int) -> DictionaryRecord:
    return DictionaryRecord(**{**vars(record), "version": version})


async def dictionaries_in_use(settings: Settings, tenant: str) -> dict[str, list[DictionaryInUse]]:
    """Per region, the tenant's dictionaries (oldest version first, then any a body names
    without a record) with the warm and cold bodies that need each.

    Raises TierPolicyError for a bad tenant id; database errors as they come.
    """
    check_tenant(tenant)
    listed = await asyncio.gather(
        *(_in_region(settings, tenant, name) for name in settings.regions)
    )
    return dict(zip(settings.regions, listed, strict=True))


async def _in_region(settings: Settings, tenant: str, region: str) -> list[DictionaryInUse]:
    async with await DedupStore.open(settings.region(region)) as dedup:
        records = await list_dictionaries(dedup.pools.control, tenant)
        current = await current_dictionary(dedup.pools.control, tenant)
        usage = await dictionary_usage(dedup, tenant)
    recorded = {record.dict_id for record in records}
    unrecorded = sorted(usage.ids() - recorded)
    return [
        DictionaryInUse(
            record.dict_id,
            record,
            record.dict_id == current,
            usage.warm[record.dict_id],
            usage.cold[record.dict_id],
        )
        for record in records
    ] + [DictionaryInUse(i, None, False, usage.warm[i], usage.cold[i]) for i in unrecorded]
