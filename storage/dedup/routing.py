"""The versioned routing table: which shard of a region holds a dedup key.

The control database keeps one row per epoch in `dedup_routing`; the route in force is the one
with the highest epoch. Nodes load it once and keep it (`RoutingTable`), re-reading it on
`refresh()`; writers re-read it on their own and acknowledge each new epoch
(storage/dedup/route_watch.py). Shards are indexes into the region's `shard_dsns`: a ring of
size N uses the first N.

Only the re-sharding workflow appends epochs (storage/dedup/route_epochs.py). While it runs, a
route names the ring it migrates from (`ring_size`) and the ring it migrates to
(`next_ring_size`); its phase says which ring reads use and which rings writes go to:

| phase                     | read ring | write rings |
| stable/plan/copy/verify   | from      | (from,)     |
| dual_write                | from      | (from, to)  |
| cutover_reads             | to        | (from, to)  |
| cutover                   | to        | (to, from)  |
| cleanup                   | to        | (to,)       |

A write's answer comes from the key's shard on the read ring, where reads find it. Reads switch
before writes stop reaching the old ring, so from dual_write until cleanup both rings receive
every write and a rollback before cleanup loses nothing. Jump consistent hashing keeps dual
writes cheap: growing the ring moves a key only to one of the new shards, so most keys need no
second write at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from ledger.ring import shard_of
from storage.dedup.errors import RoutingError


class Phase(StrEnum):
    """A step of re-sharding a region's ring; `stable` while no re-sharding runs."""

    STABLE = "stable"
    PLAN = "plan"
    COPY = "copy"
    VERIFY = "verify"
    DUAL_WRITE = "dual_write"
    CUTOVER_READS = "cutover_reads"
    CUTOVER = "cutover"
    CLEANUP = "cleanup"


DUAL_WRITE_PHASES = frozenset({Phase.DUAL_WRITE, Phase.CUTOVER_READS, Phase.CUTOVER})
"""Phases in which writes go to both rings."""

READ_NEXT_PHASES = frozenset({Phase.CUTOVER_READS, Phase.CUTOVER, Phase.CLEANUP})
"""Phases in which reads use the ring migrated to."""

SELECT_CURRENT_ROUTE = """
SELECT epoch, ring_size, next_ring_size, phase, migration_id
FROM dedup_routing
ORDER BY epoch DESC
LIMIT 1
"""

# Only the first migration of a region creates a route; later runs leave the table alone, even
# if the configuration now lists more shards (growing the ring is the migration workflow's job).
INSERT_INITIAL_ROUTE = """
INSERT INTO dedup_routing (epoch, ring_size, phase)
SELECT 1, $1, 'stable'
WHERE NOT EXISTS (SELECT 1 FROM dedup_routing)
RETURNING epoch, ring_size, next_ring_size, phase, migration_id
"""


@dataclass(frozen=True, slots=True)
class Route:
    """One epoch of the routing table."""

    epoch: int
    ring_size: int
    phase: Phase
    next_ring_size: int | None = None
    migration_id: str | None = None

    @property
    def shard_count(self) -> int:
        """How many shards (from index 0) this route reads or writes."""
        return max(self.ring_size, self.next_ring_size or 0)

    @property
    def read_ring(self) -> int:
        """The size of the ring reads, counts, dumps and applied positions use."""
        return self._next_ring if self.phase in READ_NEXT_PHASES else self.ring_size

    @property
    def read_shards(self) -> range:
        """The shards of the read ring."""
        return range(self.read_ring)

    @property
    def write_rings(self) -> tuple[int, ...]:
        """The sizes of the rings writes go to, in the order of the module's table."""
        if self.phase is Phase.CLEANUP:
            return (self._next_ring,)
        if self.phase is Phase.CUTOVER:
            rings: tuple[int, ...] = (self._next_ring, self.ring_size)
        elif self.phase in DUAL_WRITE_PHASES:
            rings = (self.ring_size, self._next_ring)
        else:
            rings = (self.ring_size,)
        # A migration to the same ring (never planned, but not forbidden by the table) is one.
        return tuple(dict.fromkeys(rings))

    @property
    def written_shards(self) -> range:
        """The shards writes go to: every shard of the largest write ring."""
        return range(max(self.write_rings))

    @property
    def dual_writing(self) -> bool:
        """True while writes go to more than one ring."""
        return len(self.write_rings) > 1

    def read_shard(self, tenant_id: str, event_id: str) -> int:
        """The shard that holds the key's state: reads go here, and results come from here."""
        return shard_of(tenant_id, event_id, self.read_ring)

    def write_shards(self, tenant_id: str, event_id: str) -> tuple[int, ...]:
        """Every shard a write of the key goes to (its shard on each write ring, in order, each
        once), the read shard first: the answer comes from where reads go."""
        # The read ring is always one of the write rings, so the read shard is always written.
        primary = self.read_shard(tenant_id, event_id)
        others = dict.fromkeys(shard_of(tenant_id, event_id, ring) for ring in self.write_rings)
        return (primary, *(shard for shard in others if shard != primary))

    @property
    def _next_ring(self) -> int:
        # A route of a phase past dual_write names its target; fall back to the current ring
        # rather than fail on a hand-written row without one.
        return self.next_ring_size or self.ring_size

    @classmethod
    def from_row(cls, row: Any) -> Route:
        """The route a `dedup_routing` row (as SELECT_CURRENT_ROUTE returns it) holds."""
        return cls(
            epoch=int(row["epoch"]),
            ring_size=int(row["ring_size"]),
            phase=Phase(row["phase"]),
            next_ring_size=None if row["next_ring_size"] is None else int(row["next_ring_size"]),
            migration_id=row["migration_id"],
        )


async def read_current_route(conn: Any) -> Route:
    """The route with the highest epoch. Raises RoutingError when there is none."""
    try:
        row = await conn.fetchrow(SELECT_CURRENT_ROUTE)
    except asyncpg.UndefinedTableError:
        row = None
    if row is None:
        raise RoutingError(
            "expected a route in dedup_routing, found none: run `geoledger db migrate` first"
        )
    return Route.from_row(row)


async def ensure_initial_route(conn: Any, ring_size: int) -> Route | None:
    """Create epoch 1 (`ring_size` shards, phase stable) unless a route exists; return it when
    created. Requires ring_size >= 1; the caller holds the migration lock."""
    if ring_size < 1:
        raise RoutingError(f"expected a ring of at least 1 shard, got {ring_size}")
    row = await conn.fetchrow(INSERT_INITIAL_ROUTE, ring_size)
    return None if row is None else Route.from_row(row)


class RoutingTable:
    """A node's cached copy of the current route."""

    def __init__(self, route: Route, configured_shards: int) -> None:
        _check_fits(route, configured_shards)
        self._route = route
        self._configured_shards = configured_shards

    @classmethod
    async def load(cls, conn: Any, configured_shards: int) -> RoutingTable:
        """Read the current route. Raises RoutingError when there is none, or when it uses more
        shards than the `configured_shards` DSNs the region's configuration lists."""
        return cls(await read_current_route(conn), configured_shards)

    @property
    def route(self) -> Route:
        """The route in force, as last loaded or refreshed."""
        return self._route

    async def refresh(self, conn: Any) -> Route:
        """Re-read the route; keep the cached one if the new one does not fit the config."""
        route = await read_current_route(conn)
        _check_fits(route, self._configured_shards)
        self._route = route
        return route


def _check_fits(route: Route, configured_shards: int) -> None:
    if route.shard_count > configured_shards:
        raise RoutingError(
            f"route epoch {route.epoch} uses {route.shard_count} shards, but the configuration "
            f"lists only {configured_shards} shard_dsns"
        )
