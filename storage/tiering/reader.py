"""The tiered reader: the verified body of a key row whatever tier it is in (ARCHITECTURE §3).

hot  = the row's `event`, as applied;
warm = decode(warm_body), then check_body;
cold = the blob at the row's pack location (its bytes SHA-256 checked before use, I5), decoded,
       then check_body.
A body that fails any check raises TieredReadError naming the key, the tier and where its bytes
are: never another body. A read served below hot moves the body back to hot when the tenant's
policy says promote_on_read (storage/tiering/promote.py). Every read is timed in
tier_read_seconds{tier}; every failed cold read is counted in cold_driver_errors_total. A pack in
an archive class that is not restored is no failure: the read raises BodyArchived (restoring,
retry after the configured estimate) and is not counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.cold_location import ColdLocation
from ledger.config import RegionConfig, Settings
from ledger.tier_policy import TierPolicy, TierPolicyOverride
from storage.objectstore import ObjectArchived, ObjectStore, ObjectStoreError, open_object_store
from storage.tiering.body_check import check_body
from storage.tiering.body_row import BodyRow, BodyTier
from storage.tiering.codec import decode, required_dictionary
from storage.tiering.dictionaries import Dictionary, DictionaryStore
from storage.tiering.errors import (
    BodyDecodeError,
    BodyIntegrityError,
    DictionaryIntegrityError,
    DictionaryNotFoundError,
)
from storage.tiering.metrics import COLD_DRIVER_ERRORS, TIER_READ_SECONDS, cold_failure_reason
from storage.tiering.pack_errors import PackCorrupt, PackNotFound
from storage.tiering.pack_reader import read_blob
from storage.tiering.promote import promote
from storage.tiering.read_errors import BodyArchived, TieredReadError
from storage.tiering.tenant_policies import TenantPolicies

log = logging.getLogger("geoledger.tiering")


class ColdBlobs(Protocol):
    """Where cold blobs come from: one range GET each (reads), or whole packs (dumps)."""

    async def blob(self, tenant: str, location: ColdLocation) -> bytes:
        """The blob at `location` in `tenant`'s pack, SHA-256 checked against it."""
        ...


class RangeReads:
    """Each blob by one range GET on the region's store (pack_reader.read_blob)."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    async def blob(self, tenant: str, location: ColdLocation) -> bytes:
        """The blob at `location`, by one range GET, SHA-256 checked."""
        return await read_blob(self._store, tenant, location)


@dataclass(frozen=True)
class TierReadOptions:
    """What a region's reader needs beyond the region itself: the policy layers of
    geoledger.toml (for promote_on_read), the bound on a decoded body (`[tier_demotion]`), how
    many dictionaries to keep in memory (`[tier_reads]`) and when to retry a read of an
    archived body (`[tier_restore]`)."""

    defaults: TierPolicy
    sections: Mapping[str, TierPolicyOverride]
    max_body_bytes: int
    dictionary_cache_size: int
    restore_retry_after_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TierReadOptions:
        """The options `settings` (geoledger.toml) give."""
        return cls(
            defaults=settings.tiering,
            sections=settings.tenants,
            max_body_bytes=settings.tier_demotion.max_body_bytes,
            dictionary_cache_size=settings.tier_reads.dictionary_cache_size,
            restore_retry_after_s=settings.tier_restore.retry_after_s,
        )


class TieredBodies:
    """Verified bodies of one region's rows from the tier each is in."""

    def __init__(
        self,
        store: ObjectStore,
        dictionaries: DictionaryStore,
        policies: TenantPolicies,
        max_body_bytes: int,
        restore_retry_after_s: int,
    ) -> None:
        self._store = store
        self._dictionaries = dictionaries
        self._policies = policies
        self._max_body_bytes = max_body_bytes
        self._restore_retry_after_s = restore_retry_after_s
        self._range_reads = RangeReads(store)

    @classmethod
    def open(cls, region: RegionConfig, control_db: Any, options: TierReadOptions) -> TieredBodies:
        """The reader of `region`'s bodies: its object store, its dictionaries, the policies of
        its control database `control_db` (an asyncpg pool). Sends nothing over the network."""
        store = open_object_store(region.object_store)
        return cls(
            store,
            DictionaryStore(store, options.dictionary_cache_size),
            TenantPolicies(options.defaults, options.sections, control_db),
            options.max_body_bytes,
            options.restore_retry_after_s,
        )

    @property
    def store(self) -> ObjectStore:
        """The region's object store, which holds cold packs and dictionaries."""
        return self._store

    async def read(self, shard: Any, row: BodyRow, *, promote: bool = True) -> bytes:
        """The verified body of `row` (read from `shard`, an asyncpg pool), promoted back to hot
        when it was below hot, `promote` allows it (the caller's region is not being
        re-sharded) and the tenant's policy says promote_on_read.

        Raises BodyArchived while its pack waits for a restore; TieredReadError when the body
        cannot be read or fails a check. A promotion that
        fails is logged and the body still returned: the read itself succeeded.
        """
        body = await self.body(row, self._range_reads)
        if promote and row.tier is not BodyTier.HOT:
            await self._promote_if_wanted(shard, row, body)
        return body

    async def body(self, row: BodyRow, cold: ColdBlobs) -> bytes:
        """The verified body of `row`, cold blobs taken from `cold`; timed per tier."""
        started = time.perf_counter()
        if row.tier is BodyTier.HOT:
            assert row.event is not None  # the shard's CHECK: a hot row has its event
            body = row.event
        elif row.tier is BodyTier.WARM:
            body = await self._warm(row)
        else:
            body = await self._cold(row, cold)
        TIER_READ_SECONDS.labels(row.tier.label).observe(time.perf_counter() - started)
        return body

    async def _warm(self, row: BodyRow) -> bytes:
        assert row.warm_body is not None  # the shard's CHECK: a warm row has its blob
        try:
            return await self._decoded(row, row.warm_body)
        except (*_BODY_ERRORS, ObjectStoreError) as exc:  # the store: its dictionary
            raise _read_error(row, "the shard's warm_body column", exc) from exc

    async def _cold(self, row: BodyRow, cold: ColdBlobs) -> bytes:
        assert row.cold is not None  # the shard's CHECK: a cold row has its location
        location = row.cold
        source = f"{self._store.describe()} pack {location.pack_id} at {location.offset}"
        try:
            blob = await cold.blob(row.tenant_id, location)
            return await self._decoded(row, blob)
        except ObjectArchived as exc:
            raise BodyArchived(
                row.tenant_id, row.event_id, source, location.pack_id, self._restore_retry_after_s
            ) from exc
        except (*_BODY_ERRORS, PackNotFound, PackCorrupt, ObjectStoreError) as exc:
            error = _read_error(row, source, exc)
            COLD_DRIVER_ERRORS.labels("read", error.reason).inc()
            raise error from exc

    async def _decoded(self, row: BodyRow, blob: bytes) -> bytes:
        dictionaries: dict[str, Dictionary] = {}
        dict_id = required_dictionary(blob)
        if dict_id is not None:
            dictionaries[dict_id] = await self._dictionaries.load(row.tenant_id, dict_id)
        body = decode(blob, dictionaries, self._max_body_bytes)
        check_body(row.tenant_id, row.event_id, body, row.digest)
        return body

    async def _promote_if_wanted(self, shard: Any, row: BodyRow, body: bytes) -> None:
        try:
            if (await self._policies.policy(row.tenant_id)).promote_on_read:
                await promote(shard, row, body)
        except Exception:
            # Promotion only saves the next read some time; the body in hand is verified.
            log.warning(
                "%s/%s: not promoted from %s",
                row.tenant_id,
                row.event_id,
                row.tier.label,
                exc_info=True,
            )


_BODY_ERRORS = (
    BodyDecodeError,
    BodyIntegrityError,
    DictionaryNotFoundError,
    DictionaryIntegrityError,
)


def _read_error(row: BodyRow, source: str, exc: Exception) -> TieredReadError:
    return TieredReadError(
        row.tenant_id, row.event_id, row.tier.label, source, cold_failure_reason(exc), str(exc)
    )
