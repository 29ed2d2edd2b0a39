"""`DedupStore`: a region's sharded, convergent dedup store (ARCHITECTURE §3, invariant I3)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeVar

import asyncpg

from ledger.config import RegionConfig
from storage.dedup import dump, read
from storage.dedup.apply import apply_to_shard, checked_position
from storage.dedup.errors import (
    DedupError,
    DedupRecordError,
    DedupShardError,
    DedupUnavailableError,
)
from storage.dedup.models import ApplyResult, Conflict, DedupRecord, StoredEvent
from storage.dedup.pool import (
    DEFAULT_MAX_SIZE,
    DEFAULT_MIN_SIZE,
    ConnectionInit,
    ShardPools,
    describe_dsn,
)
from storage.dedup.route_watch import InFlightApplies, RouteNode, RouteWatcher, RouteWatchOptions
from storage.dedup.routing import Phase, Route, RoutingTable
from storage.tiering.errors import TieringError
from storage.tiering.reader import TieredBodies, TierReadOptions

_T = TypeVar("_T")


@dataclass
class _ShardBatch:
    """The records one shard receives: their indexes in the batch, and which of them this shard
    answers for (a dual-written record is answered for by its read shard)."""

    indexes: list[int] = field(default_factory=list)
    answers: list[bool] = field(default_factory=list)


class DedupStore:
    """One pool per database, the cached route, and the operations every node needs.

    Open it with `await DedupStore.open(region)` (or `async with await DedupStore.open(...)`)
    and close it with `close()`.
    """

    def __init__(
        self, pools: ShardPools, routing: RoutingTable, bodies: TieredBodies | None = None
    ) -> None:
        self._pools = pools
        self._routing = routing
        self._bodies = bodies
        self._in_flight = InFlightApplies()
        self._watcher: RouteWatcher | None = None

    @classmethod
    async def open(
        cls,
        region: RegionConfig,
        *,
        min_size: int = DEFAULT_MIN_SIZE,
        max_size: int = DEFAULT_MAX_SIZE,
        init: ConnectionInit | None = None,
        tiering: TierReadOptions | None = None,
        node: RouteNode | None = None,
        watch: RouteWatchOptions | None = None,
    ) -> DedupStore:
        """Connect to the region's control database and shards and load the current route.

        A writer of a live region passes `node` and `watch`: the store registers the node in
        `dedup_route_nodes`, follows the route (storage/dedup/route_watch.py), and refuses to
        apply once it has not read the route for `watch.lease_s`. A store opened without them
        (one-off commands, readers) keeps the route it loaded and never expires.

        With `tiering`, reads (`get_event`, the dump) find a body in whatever tier it is in,
        through the region's object store and the tenants' policies in its control database;
        without it they read hot bodies only and raise TieredBodiesMissingError for any other
        (applies and counts never read a body, so their callers need nothing).

        Raises DedupUnavailableError when a database cannot be reached, RoutingError when the
        region was never migrated or its route needs more shards than are configured.
        """
        if (node is None) != (watch is None):
            raise ValueError("expected node and watch together, or neither")
        pools = await ShardPools.open(region, min_size=min_size, max_size=max_size, init=init)
        try:
            async with pools.control.acquire() as conn:
                routing = await RoutingTable.load(conn, len(pools.shards))
        except BaseException:
            await pools.close()
            raise
        bodies = None
        if tiering is not None:
            bodies = TieredBodies.open(region, pools.control, tiering)
        store = cls(pools, routing, bodies)
        if node is not None and watch is not None:
            watcher = RouteWatcher(pools.control, routing, store._in_flight, node, watch)
            try:
                await watcher.start()
            except BaseException as exc:
                await pools.close()
                if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
                    raise DedupUnavailableError(
                        f"register route node {node.name} in {describe_dsn(region.control_dsn)}: "
                        f"{exc}"
                    ) from exc
                raise
            store._watcher = watcher
        return store

    async def close(self) -> None:
        """Stop following the route and remove the node's registration, if watched; close every
        pool of the store."""
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        await self._pools.close()

    async def __aenter__(self) -> DedupStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def route(self) -> Route:
        """The route in force, as last loaded or refreshed."""
        return self._routing.route

    @property
    def pools(self) -> ShardPools:
        """The pools of the control database and every shard."""
        return self._pools

    async def refresh_routing(self) -> Route:
        """Re-read the route from the control database (after a re-sharding step)."""
        async with self._pools.control.acquire() as conn:
            return await self._routing.refresh(conn)

    async def apply(
        self,
        records: Sequence[DedupRecord],
        *,
        stream: str | None = None,
        through_seq: int | None = None,
    ) -> list[ApplyResult]:
        """Apply records; return one result per record, in order.

        Each shard applies its records in one transaction, shards concurrently. When `stream`
        and `through_seq` are given, every shard the route writes to (with records of this batch
        or without) also records, in that same transaction, that `stream` is applied through
        `through_seq` (the position never goes back). Applying a record again is a no-op that
        reports the outcome it has now.

        Requires every record to pass `DedupRecord.check` and `stream`/`through_seq` to be given
        together; raises DedupRecordError otherwise, before anything is written. Raises
        DedupShardError when a shard fails: that shard changed nothing, others may have
        committed, and re-applying the batch is safe. Raises RouteLeaseExpiredError, before
        anything is written, when the store is watched and has not read its route for longer
        than its lease.
        """
        position = checked_position(stream, through_seq)
        for record in records:
            record.check()
        if self._watcher is not None:
            self._watcher.check_lease()
        route = self.route
        batches = self._group(route, records, position is not None)
        # Counted from the route's read on, with no await in between: the watcher acknowledges
        # a newer epoch only once every apply of an older one has finished.
        with self._in_flight.track(route.epoch):
            shard_results = await self._each_shard(
                {
                    shard: apply_to_shard(
                        self._pools.shards[shard], [records[i] for i in batch.indexes], position
                    )
                    for shard, batch in batches.items()
                },
                "apply",
            )
        results: list[ApplyResult | None] = [None] * len(records)
        for shard, batch in batches.items():
            for index, answers, result in zip(
                batch.indexes, batch.answers, shard_results[shard], strict=True
            ):
                if answers:
                    results[index] = result
        assert all(result is not None for result in results)
        return [result for result in results if result is not None]

    @property
    def in_flight(self) -> InFlightApplies:
        """Applies in flight per routing epoch: the route watcher acknowledges a newer epoch only
        once none of an older one runs. A caller that routes records by `route` now and writes
        them later, shard by shard, with `apply_shard` (api/ingest/applier.py) holds the route's
        epoch here from the routing (with no await in between) until they are written."""
        return self._in_flight

    async def apply_shard(
        self, shard: int, records: Sequence[DedupRecord], *, stream: str, through_seq: int
    ) -> list[ApplyResult]:
        """Apply records routed to `shard` (by a route whose epoch the caller holds in
        `in_flight`) and record, in the same
        transaction, that `stream` is applied through `through_seq` there; one result per record,
        in order. Only this shard is written, so the records routed to it must be every record of
        the stream up to `through_seq` that it has not applied yet.

        Raises DedupRecordError as `apply` does, RouteLeaseExpiredError (nothing written) when
        the watched store's lease ran out, DedupShardError when the shard fails (it changed
        nothing; applying again is safe)."""
        position = checked_position(stream, through_seq)
        for record in records:
            record.check()
        if self._watcher is not None:
            self._watcher.check_lease()
        try:
            return await apply_to_shard(self._pools.shards[shard], records, position)
        except Exception as exc:
            raise DedupShardError(shard, f"apply: {exc}") from exc

    @staticmethod
    def _group(
        route: Route, records: Sequence[DedupRecord], every_shard: bool
    ) -> dict[int, _ShardBatch]:
        # A position must reach every written shard, even one no record of the batch routes to:
        # the region's watermark is the minimum over shards.
        batches = {shard: _ShardBatch() for shard in route.written_shards} if every_shard else {}
        for index, record in enumerate(records):
            for rank, shard in enumerate(route.write_shards(record.tenant_id, record.event_id)):
                batch = batches.setdefault(shard, _ShardBatch())
                batch.indexes.append(index)
                batch.answers.append(rank == 0)
        return batches

    async def get_event(self, tenant_id: str, event_id: str) -> StoredEvent | None:
        """The key's winning record, or None if no record of it was applied. A body read from
        below hot moves back to hot as its tenant's policy says, except while the route is not
        stable (a re-sharding copies and compares the rows).

        Raises TieredReadError (a TieringError) when its body is below hot and cannot be read
        back verified, TieredBodiesMissingError when the store was opened without `tiering`;
        a body's failure is the body's, not the shard's, so neither is a DedupShardError.
        """
        route = self.route
        shard = route.read_shard(tenant_id, event_id)
        pool = self._pools.shards[shard]
        try:
            # No promotion while re-sharding: the migration copies and compares the rows.
            return await read.fetch_event(
                pool, tenant_id, event_id, self._bodies, promote=route.phase is Phase.STABLE
            )
        except TieringError:
            raise
        except Exception as exc:
            raise DedupShardError(shard, f"read: {exc}") from exc

    async def held_event_ids(self, tenant_id: str, event_ids: Iterable[str]) -> set[str]:
        """Those of the tenant's `event_ids` the store holds a winner for: one query per read
        shard, whatever tier the bodies are in."""
        route = self.route
        by_shard: dict[int, list[str]] = {}
        for event_id in event_ids:
            by_shard.setdefault(route.read_shard(tenant_id, event_id), []).append(event_id)
        held = await self._each_shard(
            {
                shard: read.fetch_held_ids(self._pools.shards[shard], tenant_id, ids)
                for shard, ids in by_shard.items()
            },
            "read held keys",
        )
        return set().union(*held.values())

    async def applied_positions(self) -> dict[str, int]:
        """Per stream, the highest seq applied on every shard of the read ring (0 where one has
        none).

        The read ring's positions are the watermark: shards a growing ring adds hold no position
        until their copy is sealed, while every dual-written batch still records its position on
        every shard it writes (see `apply`)."""
        per_shard = await self._each_shard(
            {shard: read.fetch_positions(self._pools.shards[shard]) for shard in self._read()},
            "read positions",
        )
        streams = {stream for positions in per_shard.values() for stream in positions}
        return {
            stream: min(positions.get(stream, 0) for positions in per_shard.values())
            for stream in sorted(streams)
        }

    async def applied_position(self, stream: str) -> int:
        """The stream's replay watermark in this region: the minimum over shards, 0 if never."""
        return (await self.applied_positions()).get(stream, 0)

    async def conflicts(self, tenant_id: str | None = None, limit: int = 100) -> list[Conflict]:
        """Up to `limit` conflicts (optionally of one tenant), by key then loser origin."""
        if limit < 1:
            raise DedupRecordError(f"limit: expected at least 1, got {limit}")
        per_shard = await self._each_shard(
            {
                shard: read.fetch_conflicts(self._pools.shards[shard], tenant_id, limit)
                for shard in self._read()
            },
            "read conflicts",
        )
        merged = sorted(
            (c for conflicts in per_shard.values() for c in conflicts), key=read.conflict_order
        )
        return merged[:limit]

    async def count_events(self) -> int:
        """How many keys have a winner."""
        counts = await self._each_shard(
            {
                shard: read.fetch_count(self._pools.shards[shard], read.COUNT_EVENTS)
                for shard in self._read()
            },
            "count events",
        )
        return sum(counts.values())

    async def count_copies(self) -> tuple[int, int]:
        """(duplicates, conflicts): the records that lost to a winner with the same content
        digest, and those that lost to a different one. Like every count here, it depends only
        on the set of records applied, never on their order."""
        totals = []
        for query in (read.COUNT_COPIES, read.COUNT_CONFLICTS):
            counts = await self._each_shard(
                {
                    shard: read.fetch_count(self._pools.shards[shard], query)
                    for shard in self._read()
                },
                "count copies",
            )
            totals.append(sum(counts.values()))
        copies, conflicts = totals
        return copies - conflicts, conflicts

    async def dump_digest(self) -> dict[int, str]:
        """Per shard of the read ring, the hex SHA-256 of its dump (see storage/dedup/dump.py)."""
        return await self._each_shard(
            {
                shard: dump.shard_digest(self._pools.shards[shard], self._bodies)
                for shard in self._read()
            },
            "dump",
        )

    async def dump_digest_total(self) -> str:
        """The hex SHA-256 of the whole region's dump, independent of the number of shards and
        of the tier each body is in (bodies below hot need a store opened with `tiering`)."""
        pools = [self._pools.shards[shard] for shard in self._read()]
        try:
            return await dump.merged_digest(pools, self._bodies)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise DedupError(f"dump: {exc}") from exc

    def _read(self) -> range:
        return self.route.read_shards

    async def _each_shard(self, work: dict[int, Awaitable[_T]], what: str) -> dict[int, _T]:
        """Run one awaitable per shard concurrently, let all finish, then raise the first
        failure as DedupShardError naming its shard and step."""
        shards = list(work)
        outcomes = await asyncio.gather(*work.values(), return_exceptions=True)
        results: dict[int, _T] = {}
        for shard, outcome in zip(shards, outcomes, strict=True):
            if isinstance(outcome, Exception):
                raise DedupShardError(shard, f"{what}: {outcome}") from outcome
            if isinstance(outcome, BaseException):
                raise outcome
            results[shard] = outcome
        return results


async def read_event(
    region: RegionConfig, tenant_id: str, event_id: str, tiering: TierReadOptions | None = None
) -> StoredEvent | None:
    """The key's winning record in the region, or None: the store is opened for this one read
    and closed again (for one-off readers such as `geoledger events get`); `tiering` as for
    `DedupStore.open`."""
    async with await DedupStore.open(region, tiering=tiering) as store:
        return await store.get_event(tenant_id, event_id)
