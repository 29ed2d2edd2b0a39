"""A writer's watch on its region's route: re-read it, switch to a new epoch, acknowledge it, and
stop writing when the control database has not answered for too long.

A re-sharding moves writes only after every live writer has acknowledged the epoch that moves
them (storage/dedup/route_epochs.route_acks). A watched `DedupStore` registers its node in
`dedup_route_nodes` and runs a `RouteWatcher`: every `poll_s` it reads the current route, swaps the
store's cached one (new applies use it), waits until every apply begun under an older epoch has
finished (polling on meanwhile), and only then records the new epoch as acknowledged. Each
successful poll also records `seen_at` (the heartbeat) and extends the node's lease to `lease_s`
from the poll's start; an apply after the lease ran out raises RouteLeaseExpiredError. So a node
cut off from the control database, which the migration stops counting as live once it has not
been seen for `lease_s`, has stopped writing by then rather than writing with a route that may
have moved on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import asyncpg

from ledger.config import Settings
from storage.dedup.errors import RouteLeaseExpiredError, RoutingError
from storage.dedup.route_epochs import route_acks
from storage.dedup.routing import RoutingTable

log = logging.getLogger("geoledger.dedup")

__all__ = [
    "InFlightApplies",
    "RouteNode",
    "RouteWatchOptions",
    "RouteWatcher",
    "route_acks",
]

# acked_at moves only when the epoch does; seen_at moves on every poll.
UPSERT_NODE = """
INSERT INTO dedup_route_nodes (node, role, epoch, acked_at, seen_at)
VALUES ($1, $2, $3, now(), now())
ON CONFLICT (node) DO UPDATE SET
    role = EXCLUDED.role,
    epoch = EXCLUDED.epoch,
    seen_at = EXCLUDED.seen_at,
    acked_at = CASE
        WHEN dedup_route_nodes.epoch = EXCLUDED.epoch THEN dedup_route_nodes.acked_at
        ELSE EXCLUDED.acked_at
    END
"""

DELETE_NODE = "DELETE FROM dedup_route_nodes WHERE node = $1"


@dataclass(frozen=True, slots=True)
class RouteNode:
    """A writer process as the migration sees it: `ingest/<region>/<node>` or
    `worker/<host>/<pid>`, and its role (`ingest`, `worker`)."""

    name: str
    role: str


@dataclass(frozen=True, slots=True)
class RouteWatchOptions:
    """How often a watched store reads its route, and how long it writes without having read it.
    Requires 0 < poll_s < lease_s."""

    poll_s: float
    lease_s: float

    def __post_init__(self) -> None:
        if not 0 < self.poll_s < self.lease_s:
            raise ValueError(
                f"expected 0 < poll_s < lease_s, got poll_s={self.poll_s}, lease_s={self.lease_s}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> RouteWatchOptions:
        """The options `[migrate]` of geoledger.toml gives."""
        return cls(poll_s=settings.migrate.route_poll_s, lease_s=settings.migrate.route_lease_s)


class InFlightApplies:
    """How many applies are running under each routing epoch, and a wait for those of older
    epochs to finish."""

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self._finished = asyncio.Event()

    @contextmanager
    def track(self, epoch: int) -> Iterator[None]:
        """Count an apply under `epoch` while the block runs."""
        self.hold(epoch)
        try:
            yield
        finally:
            self.release(epoch)

    def hold(self, epoch: int) -> None:
        """Count an apply under `epoch` until `release(epoch)`: for records routed now and
        written later (the ingest applier's shard lanes, api/ingest/applier.py)."""
        self._counts[epoch] += 1

    def release(self, epoch: int) -> None:
        """End one apply counted under `epoch`."""
        self._counts[epoch] -= 1
        if not self._counts[epoch]:
            del self._counts[epoch]
        # Wake every waiter, then give later ones a fresh event to wait on.
        self._finished.set()
        self._finished = asyncio.Event()

    async def wait_before(self, epoch: int) -> None:
        """Return once no apply of an epoch older than `epoch` runs."""
        while any(running < epoch for running in self._counts):
            await self._finished.wait()


class RouteWatcher:
    """The background task of a watched store; see the module docstring."""

    def __init__(
        self,
        control: Any,
        routing: RoutingTable,
        in_flight: InFlightApplies,
        node: RouteNode,
        options: RouteWatchOptions,
    ) -> None:
        self._control = control
        self._routing = routing
        self._in_flight = in_flight
        self._node = node
        self._options = options
        self._acked = routing.route.epoch
        self._last_poll = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    @property
    def node(self) -> RouteNode:
        """The node this watcher registers."""
        return self._node

    @property
    def acked_epoch(self) -> int:
        """The epoch last recorded as acknowledged."""
        return self._acked

    async def start(self) -> None:
        """Register the node with the route it loaded (no apply ran before it), then poll in the
        background. Raises RoutingError when the control database lacks the table, the driver's
        error when the row cannot be written."""
        started = time.monotonic()
        try:
            await self._control.execute(UPSERT_NODE, self._node.name, self._node.role, self._acked)
        except asyncpg.UndefinedTableError as exc:
            raise RoutingError(
                "expected a dedup_route_nodes table (migration 0013), found none: run "
                "`geoledger db migrate` first"
            ) from exc
        self._last_poll = started
        self._task = asyncio.create_task(self._run(), name=f"route watch {self._node.name}")

    async def stop(self) -> None:
        """Stop polling and delete the node's row, so a node that left blocks no migration (if
        the control database cannot be reached, the row stops being live on its own)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self._control.execute(DELETE_NODE, self._node.name)
        except Exception as exc:
            log.warning("route watch %s: could not delete its row: %s", self._node.name, exc)

    def check_lease(self) -> None:
        """Raise RouteLeaseExpiredError when the last successful poll started more than
        `lease_s` ago."""
        since = time.monotonic() - self._last_poll
        if since > self._options.lease_s:
            raise RouteLeaseExpiredError(
                f"node {self._node.name}: expected a route read within the last "
                f"{self._options.lease_s:g} s, the last successful one was {since:.1f} s ago "
                f"(it holds routing epoch {self._routing.route.epoch}); it writes nothing until "
                "it reads the route again"
            )

    async def poll(self) -> None:
        """Read the route and heartbeat; on a new epoch, switch to it, wait for older applies
        and acknowledge it (when they outlast `poll_s`, a later poll acknowledges it). Raises
        the driver's error or RoutingError; the lease is extended only by a poll that got this
        far."""
        started = time.monotonic()
        # Bounded: a poll stuck on a server that stopped answering would outlast the lease anyway.
        async with asyncio.timeout(self._options.lease_s), self._control.acquire() as conn:
            route = await self._routing.refresh(conn)
            await conn.execute(UPSERT_NODE, self._node.name, self._node.role, self._acked)
        self._last_poll = started
        if route.epoch == self._acked:
            return
        # No connection is held while applies drain: they may need the control pool too. Records
        # routed under an older epoch may wait for a shard that is down (their lane holds the
        # epoch until they are written): the ack waits for them, but the heartbeat and the lease
        # go on, so the other shards keep being written; the next poll tries again.
        try:
            async with asyncio.timeout(self._options.poll_s):
                await self._in_flight.wait_before(route.epoch)
        except TimeoutError:
            return
        await self._control.execute(UPSERT_NODE, self._node.name, self._node.role, route.epoch)
        self._acked = route.epoch
        log.info("route watch %s: acknowledged routing epoch %d", self._node.name, route.epoch)

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._options.poll_s)
            try:
                await self.poll()
            except Exception as exc:
                # Said once per outage, not every poll; the lease decides when writes stop.
                if not failing:
                    log.warning("route watch %s: cannot read the route: %s", self._node.name, exc)
                failing = True
                continue
            if failing:
                log.info("route watch %s: reads the route again", self._node.name)
            failing = False
