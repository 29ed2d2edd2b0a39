"""Planning a re-sharding of one region's dedup ring: measure what moves, check the preconditions,
store the plan (ledger.migration_plan) in the control database.

Measuring reads every key row of each source shard once, in one read-only snapshot per shard,
streamed in batches: the key's body bytes and its count of copies come from SQL (no body is read:
`octet_length` takes a bytea's length from its header, a cold body's length is in the row) and its
shard on the target ring from jump hash in Python (ledger.ring.shard_of, the function the store
routes with, so the plan cannot disagree with it). Measured on the embedded PostgreSQL (2 cores,
both shards on one server): a 2 -> 4 plan of 100k keys takes 0.55-0.85 s, hashing included, so
a SQL port of jump hash (64-bit unsigned arithmetic in plpgsql) would not be worth its risk.

Target shards that are not in the current ring must be empty, or hold only keys that belong there
on the target ring (what an interrupted copy leaves behind, which a resumed copy skips).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ledger.config import RegionConfig
from ledger.migration_plan import (
    CheckStatus,
    MigrationPlan,
    PlanCheck,
    PlanReport,
    ShardMove,
    estimated_copy_s,
    moving_shards,
    new_plan_id,
)
from ledger.ring import shard_of
from storage.dedup.errors import DedupUnavailableError, MigrationError
from storage.dedup.plan_checks import free_space_check, schema_check
from storage.dedup.plan_store import (
    PLAN_LOCK_KEY,
    insert_plan,
    list_plans,
    running_plan_id,
)
from storage.dedup.pool import describe_dsn
from storage.dedup.routing import Phase, Route, read_current_route
from storage.tiering.stats import STORED_BODY_BYTES

CONNECT_TIMEOUT_S = 10.0
BATCH_KEYS = 10_000
"""Key rows fetched per round trip while measuring."""

SELECT_KEYS = f"""
SELECT e.tenant_id, e.event_id, {STORED_BODY_BYTES} AS body_bytes,
       coalesce(c.copies, 0) AS copies
FROM dedup_events e
LEFT JOIN (
    SELECT tenant_id, event_id, count(*) AS copies
    FROM dedup_copies
    GROUP BY tenant_id, event_id
) c USING (tenant_id, event_id)
"""

Progress = Callable[[str], None]
"""Told what planning does now (the CLI shows it beside its spinner)."""


@dataclass
class _Tally:
    keys: int = 0
    bytes: int = 0
    copies: int = 0


@dataclass
class ShardScan:
    """Where one shard's keys go on the target ring: the tallies per other shard, and how many
    stay."""

    shard: int
    staying: int = 0
    leaving: dict[int, _Tally] = field(default_factory=lambda: defaultdict(_Tally))
    example: tuple[str, str] | None = None  # a key that leaves, for messages

    @property
    def leaving_keys(self) -> int:
        """How many keys belong to another shard on the target ring."""
        return sum(tally.keys for tally in self.leaving.values())


async def scan_shard(conn: Any, shard: int, to_ring: int, batch: int = BATCH_KEYS) -> ShardScan:
    """Every key row of the shard, with the shard it has on a `to_ring` ring."""
    scan = ShardScan(shard)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await conn.cursor(SELECT_KEYS)
        while rows := await cursor.fetch(batch):
            for tenant_id, event_id, body_bytes, copies in rows:
                target = shard_of(tenant_id, event_id, to_ring)
                if target == shard:
                    scan.staying += 1
                    continue
                tally = scan.leaving[target]
                tally.keys += 1
                tally.bytes += int(body_bytes or 0)
                tally.copies += int(copies)
                scan.example = scan.example or (tenant_id, event_id)
    return scan


@dataclass(frozen=True)
class PlanOutcome:
    """The report, and the plan stored from it (None when a check failed)."""

    report: PlanReport
    plan: MigrationPlan | None


async def plan_migration(
    name: str,
    region: RegionConfig,
    to_ring: int,
    rate_keys_per_s: float,
    progress: Progress | None = None,
) -> PlanOutcome:
    """Measure and check a re-sharding of region `name` to `to_ring` shards; store the plan when
    no check failed.

    Raises DedupUnavailableError when the control database cannot be reached, RoutingError when
    it has no route, MigrationError when it lacks the plans table. Every other problem is a
    failed check of the report.
    """
    say = progress or (lambda _: None)
    say("reading the routing table")
    control = await _connect(region.control_dsn)
    try:
        route = await read_current_route(control)
        try:
            running = await running_plan_id(control, name)
        except asyncpg.UndefinedTableError as exc:
            raise _no_plans_table(region) from exc
        checks = _region_checks(region, route, to_ring, running)
        moves: tuple[ShardMove, ...] = ()
        if not any(c.failed for c in checks):
            shard_checks, moves = await _measure(region, route.ring_size, to_ring, say)
            checks.extend(shard_checks)
        keys = sum(move.keys for move in moves)
        report = PlanReport(
            region=name,
            from_ring=route.ring_size,
            to_ring=to_ring,
            routing_epoch=route.epoch,
            moves=moves,
            checks=tuple(checks),
            rate_keys_per_s=rate_keys_per_s,
            estimated_copy_s=estimated_copy_s(keys, rate_keys_per_s),
        )
        if report.failed:
            return PlanOutcome(report, None)
        say("storing the plan")
        return await _store(control, report)
    finally:
        await control.close()


def _region_checks(
    region: RegionConfig, route: Route, to_ring: int, running: str | None
) -> list[PlanCheck]:
    configured = len(region.shard_dsns)
    checks = [
        _check(
            "ring_size",
            to_ring != route.ring_size,
            f"the ring has {route.ring_size} shard(s) (epoch {route.epoch}), the plan wants "
            f"{to_ring}",
        ),
        _check(
            "target_dsns",
            1 <= to_ring <= configured,
            f"a ring of {to_ring} uses shard_dsns[0..{to_ring - 1}]; the region lists {configured}",
        ),
    ]
    if running is not None:
        checks.append(_check("no_running_migration", False, f"migration {running} is running"))
    elif route.phase is not Phase.STABLE:
        checks.append(
            _check(
                "no_running_migration",
                False,
                f"migration {route.migration_id} is in phase {route.phase} (epoch {route.epoch})",
            )
        )
    else:
        checks.append(_check("no_running_migration", True, "no migration is running"))
    return checks


async def _measure(
    region: RegionConfig, from_ring: int, to_ring: int, say: Progress
) -> tuple[list[PlanCheck], tuple[ShardMove, ...]]:
    sources, targets = moving_shards(from_ring, to_ring)
    involved = sorted({*sources, *targets})
    say(f"connecting to shards {involved}")
    conns = await _connect_all({s: region.shard_dsns[s] for s in involved})
    try:
        checks = [
            _check(
                "reachable",
                not isinstance(conns[s], BaseException),
                f"{describe_dsn(region.shard_dsns[s])}"
                + (f": {conns[s]}" if isinstance(conns[s], BaseException) else ""),
                shard=s,
            )
            for s in involved
        ]
        if any(check.failed for check in checks):
            return checks, ()
        checks.extend([await schema_check(conns[t], t) for t in targets])
        if any(check.failed for check in checks):
            return checks, ()
        new_shards = [t for t in targets if t >= from_ring]
        say(f"measuring shards {list(sources)} (and {new_shards} for leftovers)")
        scans = await asyncio.gather(
            *(scan_shard(conns[s], s, to_ring) for s in [*sources, *new_shards])
        )
        by_shard = {scan.shard: scan for scan in scans}
        moves = _moves(by_shard, sources, targets)
        checks.extend(_stray_checks(by_shard, sources, targets))
        checks.extend(_empty_check(by_shard.get(t), t, from_ring) for t in targets)
        say("checking free space")
        for t in targets:
            incoming = sum(move.bytes for move in moves if move.target == t)
            checks.append(await free_space_check(conns[t], region.shard_dsns[t], t, incoming))
        return checks, moves
    finally:
        await asyncio.gather(
            *(c.close() for c in conns.values() if not isinstance(c, BaseException))
        )


def _moves(
    scans: dict[int, ShardScan], sources: Sequence[int], targets: Sequence[int]
) -> tuple[ShardMove, ...]:
    return tuple(
        ShardMove(source=s, target=t, keys=tally.keys, bytes=tally.bytes, copies=tally.copies)
        for s in sources
        for t, tally in sorted(scans[s].leaving.items())
        if t in targets
    )


def _stray_checks(
    scans: dict[int, ShardScan], sources: Sequence[int], targets: Sequence[int]
) -> list[PlanCheck]:
    """A source row whose key belongs to another shard of the current ring is left over from
    an earlier migration that was not cleaned up; copying it would spread it further."""
    checks = []
    for s in sources:
        strays = sum(tally.keys for t, tally in scans[s].leaving.items() if t not in targets)
        if strays:
            checks.append(
                _check(
                    "stray_rows",
                    False,
                    f"expected only keys of shard {s} on the current ring, found {strays} of "
                    "other shards (left over from an earlier migration?)",
                    shard=s,
                )
            )
    return checks


def _empty_check(scan: ShardScan | None, shard: int, from_ring: int) -> PlanCheck:
    if scan is None:  # shrinking: the target is a shard of the current ring, whose keys stay
        return _check("empty", True, "in the current ring: its own keys stay on it", shard=shard)
    if scan.leaving_keys:
        tenant_id, event_id = scan.example or ("?", "?")
        return _check(
            "empty",
            False,
            f"expected no dedup rows, or only keys that belong to shard {shard} on the target "
            f"ring; found {scan.leaving_keys} that do not (e.g. {tenant_id}/{event_id})",
            shard=shard,
        )
    if scan.staying:
        return _check(
            "empty",
            True,
            f"resumable: holds {scan.staying} keys, all of them its own on the target ring",
            shard=shard,
        )
    return _check("empty", True, "no dedup rows", shard=shard)


async def _store(control: Any, report: PlanReport) -> PlanOutcome:
    """Store the plan unless, since it was measured, a migration started or the route moved."""
    plan = report.to_plan(
        new_plan_id(report.region, report.from_ring, report.to_ring), datetime.now(UTC)
    )
    async with control.transaction():
        await control.execute("SELECT pg_advisory_xact_lock($1)", PLAN_LOCK_KEY)
        running = await running_plan_id(control, report.region)
        route = await read_current_route(control)
        late: PlanCheck | None = None
        if running is not None:
            late = _check("no_running_migration", False, f"migration {running} is running")
        elif route.epoch != report.routing_epoch:
            late = _check(
                "routing_epoch",
                False,
                f"measured against epoch {report.routing_epoch}, now {route.epoch}: plan again",
            )
        if late is not None:
            failed = report.model_copy(update={"checks": (*report.checks, late)})
            return PlanOutcome(failed, None)
        await insert_plan(control, plan)
    return PlanOutcome(report, plan)


async def stored_plans(name: str, region: RegionConfig) -> list[MigrationPlan]:
    """The plans stored for region `name`, oldest first. Raises DedupUnavailableError when its
    control database cannot be reached, MigrationError when it lacks the plans table."""
    control = await _connect(region.control_dsn)
    try:
        return await list_plans(control, name)
    except asyncpg.UndefinedTableError as exc:
        raise _no_plans_table(region) from exc
    finally:
        await control.close()


def _no_plans_table(region: RegionConfig) -> MigrationError:
    return MigrationError(
        f"control ({describe_dsn(region.control_dsn)}) has no dedup_migration_plans: "
        "run `geoledger db migrate`"
    )


def _check(name: str, ok: bool, reason: str, shard: int | None = None) -> PlanCheck:
    status = CheckStatus.OK if ok else CheckStatus.FAILED
    return PlanCheck(name=name, shard=shard, status=status, reason=reason)


async def _connect(dsn: str) -> Any:
    try:
        return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DedupUnavailableError(f"connect to {describe_dsn(dsn)}: {exc}") from exc


async def _connect_all(dsns: dict[int, str]) -> dict[int, Any]:
    """A connection per shard, or the exception that stopped it."""
    results = await asyncio.gather(
        *(asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S) for dsn in dsns.values()),
        return_exceptions=True,
    )
    return dict(zip(dsns, results, strict=True))
