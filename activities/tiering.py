"""Activities of DemotionWorkflow: the plan (which regions and shards to walk), one heartbeated
batch of storage.tiering.demote per call, and one heartbeated batch of retention expiry
(storage.tiering.expire) per call (names: activities/names.py, payloads:
activities/tiering_models.py).

An expiry batch first records the tenant's horizon (ledger/retention.py) on every shard of the
region - idempotent, it only ever rises - so the horizon is in force everywhere the dedup apply
could insert before anything below it is deleted; a policy without retention or under legal hold
records and deletes nothing. After the final batch of the region's last shard, the tenant's
packs that still hold an expired blob are rewritten without it (storage.tiering.pack_rewrite).

While a region is being re-sharded (its route is not stable), its shards' rows are being copied
and compared between rings: a batch there changes nothing and says so (`resharding` in its
result), which ends the shard's step for this run, like the plan leaving such a region out.

A batch heartbeats its checkpoint; a retried attempt resumes from the last one heartbeated. A
batch commits in one statement after its next tier holds every body, so a retry repeats at most
the work of one batch, and re-running a finished one moves nothing. A body that fails its check
is a non-retryable ApplicationError naming the key; database and object-store failures retry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from functools import partial
from typing import Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import with_heartbeats
from activities.names import TIER_DEMOTE_BATCH, TIER_EXPIRE_BATCH, TIER_PLAN
from activities.tiering_models import (
    DemoteBatchInput,
    DemotionStep,
    ExpireBatchInput,
    ExpireBatchResult,
    RegionShards,
    TierPlan,
    TierPlanInput,
)
from ledger import error_types
from ledger.config import Settings
from ledger.demotion_batch import DemotionBatch
from ledger.envelope import check_tenant_id
from ledger.retention import retention_horizon
from ledger.tier_policy import TierPolicy, merge_policy
from storage.dedup.routing import Phase, Route
from storage.dedup.store import DedupStore
from storage.objectstore import ObjectStore
from storage.tiering.cold_class import pack_storage_class
from storage.tiering.demote import demote_to_cold, demote_to_warm
from storage.tiering.dictionaries import Dictionary, DictionaryStore
from storage.tiering.dictionary_records import (
    current_dictionary,
    forget_pack_dictionaries,
    record_pack_dictionaries,
)
from storage.tiering.errors import BodyDecodeError, BodyIntegrityError
from storage.tiering.expire import ExpiryBatch, expire_batch
from storage.tiering.horizons import record_horizon
from storage.tiering.pack_rewrite import PackRewrites, rewrite_packs
from storage.tiering.policy_store import get_override

_T = TypeVar("_T")

log = logging.getLogger("geoledger.tiering")


class TieringResources(Protocol):
    """What the activities need from the worker's shared per-region connections
    (`activities.region_resources.RegionResources` provides it)."""

    async def dedup(self, region: str) -> DedupStore:
        """The dedup store of `region`."""
        ...

    def store(self, region: str) -> ObjectStore:
        """The object store of `region`."""
        ...


class TieringActivities:
    """The tiering queue's activities, sharing the worker's connections to every region."""

    def __init__(self, settings: Settings, resources: TieringResources) -> None:
        self._settings = settings
        self._resources = resources
        self._dictionaries: dict[str, DictionaryStore] = {}

    @activity.defn(name=TIER_PLAN)
    async def plan(self, request: TierPlanInput) -> TierPlan:
        """Each region's shard count from its current route; a region being re-sharded is
        marked and left out (its rows are being copied between rings)."""
        _check_tenant(request.tenant)
        regions: list[RegionShards] = []
        for region in self._settings.regions:
            dedup = await self._resources.dedup(region)
            route = await dedup.refresh_routing()
            resharding = _resharding(route)
            regions.append(
                RegionShards(region=region, shards=route.read_ring, resharding=resharding)
            )
        return TierPlan(regions=regions)

    @activity.defn(name=TIER_DEMOTE_BATCH)
    async def demote_batch(self, request: DemoteBatchInput) -> DemotionBatch:
        """One batch of `request.step` on one shard, from the checkpoint heartbeated by the
        attempt before (else the request's)."""
        _check_tenant(request.tenant)
        resharding = await self._held(request.region, request.shard)
        if resharding is not None:
            return DemotionBatch(
                read=0,
                moved=0,
                skipped=0,
                stored_raw=0,
                bytes_in=0,
                bytes_out=0,
                next_after=None,
                resharding=resharding,
            )
        previous = activity.info().heartbeat_details
        after = str(previous[0]) if previous else request.after
        return await with_heartbeats(self._batch(request, after), details=lambda: after)

    async def _batch(self, request: DemoteBatchInput, after: str) -> DemotionBatch:
        dedup = await self._resources.dedup(request.region)
        shard = dedup.pools.shards[request.shard]
        policy = await self._policy(dedup, request.tenant)
        tuning = self._settings.tier_demotion
        return await _named_errors(
            demote_to_warm(
                shard,
                request.tenant,
                policy,
                await self._current_dictionary(dedup, request.region, request.tenant, policy),
                request.as_of_ms,
                after,
                tuning.batch_rows,
            )
            if request.step is DemotionStep.WARM
            else demote_to_cold(
                shard,
                self._resources.store(request.region),
                self._dictionary_store(request.region),
                request.tenant,
                policy,
                request.as_of_ms,
                after,
                page_rows=tuning.batch_rows,
                pack_target_bytes=tuning.pack_target_bytes,
                max_body_bytes=tuning.max_body_bytes,
                record_pack=partial(record_pack_dictionaries, dedup.pools.control),
            )
        )

    @activity.defn(name=TIER_EXPIRE_BATCH)
    async def expire_batch(self, request: ExpireBatchInput) -> ExpireBatchResult:
        """One expiry batch on one shard, from the checkpoint heartbeated by the attempt before
        (else the request's)."""
        _check_tenant(request.tenant)
        resharding = await self._held(request.region, request.shard)
        if resharding is not None:
            return ExpireBatchResult(
                scanned=0,
                winners=0,
                copies=0,
                packs=0,
                horizon_hlc=None,
                next_after=None,
                resharding=resharding,
            )
        previous = activity.info().heartbeat_details
        after = str(previous[0]) if previous else request.after
        dedup = await self._resources.dedup(request.region)
        policy = await self._policy(dedup, request.tenant)
        horizon = retention_horizon(policy, request.as_of_ms)
        if horizon is None:
            return ExpireBatchResult(
                scanned=0, winners=0, copies=0, packs=0, horizon_hlc=None, next_after=None
            )
        ring = list(dedup.pools.shards[: dedup.route.read_ring])
        await record_horizon(ring, request.tenant, horizon, request.as_of_ms)
        batch: ExpiryBatch = await with_heartbeats(
            expire_batch(
                dedup.pools.shards[request.shard],
                ring,
                self._resources.store(request.region),
                request.tenant,
                horizon,
                after,
                self._settings.tier_demotion.batch_rows,
                partial(forget_pack_dictionaries, dedup.pools.control),
            ),
            details=lambda: after,
        )
        rewrites = PackRewrites()
        if batch.next_after is None and request.shard == len(ring) - 1:
            # The region's last shard is done, so every shard's expired rows are gone: the
            # packs can be judged against the rows that remain.
            rewrites = await with_heartbeats(
                rewrite_packs(
                    ring,
                    self._resources.store(request.region),
                    request.tenant,
                    horizon,
                    pack_storage_class(policy, self._resources.store(request.region)),
                    partial(record_pack_dictionaries, dedup.pools.control),
                    partial(forget_pack_dictionaries, dedup.pools.control),
                ),
                details=lambda: after,
            )
        return ExpireBatchResult(
            **{**vars(batch), "packs": batch.packs + rewrites.deleted},
            horizon_hlc=horizon,
            packs_rewritten=rewrites.rewritten,
            blobs_dropped=rewrites.dropped,
            packs_archived=rewrites.archived,
        )

    async def _held(self, region: str, shard: int) -> str | None:
        """Why `region`'s shard rows must stay as they are now (it is being re-sharded: the
        migration copies and compares them), or None. Read from the route in force now, since a
        re-sharding may have begun after the plan."""
        resharding = _resharding(await (await self._resources.dedup(region)).refresh_routing())
        if resharding is not None:
            log.info(
                "tiering holds region %s shard %d: %s",
                region,
                shard,
                resharding,
                extra={"region": region, "shard": shard},
            )
        return resharding

    async def _current_dictionary(
        self, dedup: DedupStore, region: str, tenant: str, policy: TierPolicy
    ) -> Dictionary | None:
        """The tenant's current dictionary in `region` when its policy compresses with one; None
        (plain zstd frames) otherwise, or until `tier train-dict` has recorded one there."""
        if not (policy.compression and policy.dictionary):
            return None
        dict_id = await current_dictionary(dedup.pools.control, tenant)
        if dict_id is None:
            return None
        return await self._dictionary_store(region).load(tenant, dict_id)

    async def _policy(self, dedup: DedupStore, tenant: str) -> TierPolicy:
        """The tenant's effective policy in the region: [tiering], [tenants.<t>], then the
        override in the region's control database."""
        override = await get_override(dedup.pools.control, tenant)
        policy, _ = merge_policy(
            self._settings.tiering, self._settings.tenants.get(tenant), override
        )
        return policy

    def _dictionary_store(self, region: str) -> DictionaryStore:
        if region not in self._dictionaries:
            self._dictionaries[region] = DictionaryStore(
                self._resources.store(region), self._settings.tier_demotion.dictionary_cache_size
            )
        return self._dictionaries[region]


def _resharding(route: Route) -> str | None:
    """`re-sharding (<phase>)` unless the route is stable."""
    return None if route.phase is Phase.STABLE else f"re-sharding ({route.phase})"


def _check_tenant(tenant: str) -> None:
    try:
        check_tenant_id(tenant)
    except ValueError as exc:
        raise ApplicationError(
            f"tenant: {exc}", type=error_types.TIERING_INPUT, non_retryable=True
        ) from None


async def _named_errors(work: Awaitable[_T]) -> _T:
    """`work`'s result; a body failing its check becomes a non-retryable error naming the key
    (retrying would read the same bytes)."""
    try:
        return await work
    except BodyIntegrityError as exc:
        raise ApplicationError(
            str(exc), type=error_types.BODY_INTEGRITY, non_retryable=True
        ) from exc
    except BodyDecodeError as exc:
        raise ApplicationError(str(exc), type=error_types.BODY_DECODE, non_retryable=True) from exc
