"""Moving a region's route on, one epoch at a time, and reading which writers have switched to it.

Only the re-sharding workflow appends epochs. Its activities may run again after their commit
(a worker dies before Temporal hears back), so `advance_route` from the same epoch to the same
route returns the epoch already appended instead of appending it twice; from any other epoch it
refuses, since the route has moved on under the caller. Writers acknowledge epochs in
`dedup_route_nodes` (storage/dedup/route_watch.py); `route_acks` says which live ones have not.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ledger.route_acks import NodeAck, RouteAcks
from storage.dedup.errors import RoutingError
from storage.dedup.routing import Phase, Route, read_current_route

# EXCLUSIVE: appends wait for each other, readers of the route (every node's poll) do not wait.
LOCK_ROUTING = "LOCK TABLE dedup_routing IN EXCLUSIVE MODE"

INSERT_ROUTE = """
INSERT INTO dedup_routing (epoch, ring_size, next_ring_size, phase, migration_id)
VALUES ($1, $2, $3, $4, $5)
RETURNING epoch, ring_size, next_ring_size, phase, migration_id
"""

SELECT_NODES = """
SELECT node, role, epoch, extract(epoch FROM now() - seen_at)::float8 AS seen_s_ago
FROM dedup_route_nodes
WHERE seen_at >= now() - make_interval(secs => $1)
ORDER BY node
"""


async def advance_route(
    conn: Any,
    *,
    from_epoch: int,
    ring_size: int,
    next_ring_size: int | None,
    phase: Phase,
    migration_id: str | None,
) -> Route:
    """Append epoch `from_epoch + 1` with these fields and return it, if `from_epoch` is the
    current epoch; return that epoch unchanged if it is already the current one with exactly
    these fields. A stable route stores no `next_ring_size`.

    Raises RoutingError naming the current epoch and the one expected otherwise (the route
    moved on under the caller), or when the routing table does not exist.
    """
    phase = Phase(phase)
    wanted = Route(
        epoch=from_epoch + 1,
        ring_size=ring_size,
        phase=phase,
        next_ring_size=None if phase is Phase.STABLE else next_ring_size,
        migration_id=migration_id,
    )
    async with conn.transaction():
        try:
            await conn.execute(LOCK_ROUTING)
        except asyncpg.UndefinedTableError as exc:
            raise RoutingError(
                "expected a dedup_routing table, found none: run `geoledger db migrate` first"
            ) from exc
        current = await read_current_route(conn)
        if current == wanted:
            return current
        if current.epoch != from_epoch:
            raise RoutingError(
                f"expected routing epoch {from_epoch} to advance from (or {describe(wanted)} "
                f"already appended), found {describe(current)}"
            )
        row = await conn.fetchrow(
            INSERT_ROUTE,
            wanted.epoch,
            wanted.ring_size,
            wanted.next_ring_size,
            wanted.phase.value,
            wanted.migration_id,
        )
    return Route.from_row(row)


def describe(route: Route) -> str:
    """`epoch 3 (ring 2 -> 4, dual_write, migration us-2to4-1f3a9c0d)`, for messages."""
    target = "" if route.next_ring_size is None else f" -> {route.next_ring_size}"
    migration = "" if route.migration_id is None else f", migration {route.migration_id}"
    return f"epoch {route.epoch} (ring {route.ring_size}{target}, {route.phase}{migration})"


async def route_acks(conn: Any, epoch: int, live_within_s: float) -> RouteAcks:
    """The writers seen within the last `live_within_s` seconds, split into those that have
    acknowledged `epoch` (or a later one) and those still on an older one."""
    nodes = [
        NodeAck(
            node=row["node"],
            role=row["role"],
            epoch=int(row["epoch"]),
            seen_s_ago=max(0.0, float(row["seen_s_ago"])),
        )
        for row in await conn.fetch(SELECT_NODES, float(live_within_s))
    ]
    return RouteAcks(
        epoch=epoch,
        acked=tuple(node for node in nodes if node.epoch >= epoch),
        pending=tuple(node for node in nodes if node.epoch < epoch),
    )
