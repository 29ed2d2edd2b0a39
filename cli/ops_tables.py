"""The rich tables `geoledger ops ...` prints without `--json`."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from api.ops.models import (
    DistributionAnswer,
    KeyAnswer,
    MigrationInfo,
    MigrationsAnswer,
    RouteInfo,
    SampleAnswer,
    ShardsAnswer,
)
from cli.common import console


def print_shards(answer: ShardsAnswer) -> None:
    for region in answer.regions:
        table = Table(title=f"region {region.region}: {_route(region.route, region.error)}")
        for column in ("shard", "ring", "database", "keys", "bytes", "streams", "behind"):
            table.add_column(column, justify="right" if column in ("keys", "bytes") else "left")
        for shard in region.shards:
            ring = "+".join(
                name
                for name, member in (
                    ("current", shard.in_current_ring),
                    ("next", shard.in_next_ring),
                )
                if member
            )
            positions = ", ".join(f"{s}@{seq}" for s, seq in shard.applied_positions.items())
            behind = (
                "-"
                if shard.replay_lag is None
                else ", ".join(f"{s}:{lag}" for s, lag in shard.replay_lag.items() if lag) or "0"
            )
            table.add_row(
                str(shard.shard),
                ring or "-",
                shard.database,
                _count(shard.keys),
                _count(shard.bytes),
                positions if shard.reachable else _failed(shard.error),
                behind,
            )
        console.print(table)


def print_distribution(answer: DistributionAnswer) -> None:
    for region in answer.regions:
        table = Table(title=f"region {region.region}: {_route(region.route, region.error)}")
        for column in ("shard", "keys", "share", "expected"):
            table.add_column(column, justify="right")
        for shard in region.shards:
            table.add_row(
                str(shard.shard),
                _count(shard.keys) if shard.error is None else _failed(shard.error),
                "-" if shard.share is None else f"{shard.share:.1%}",
                "-" if region.expected_share is None else f"{region.expected_share:.1%}",
            )
        if region.shards:
            table.add_row("all", _count(region.total_keys), "", "", end_section=True)
        console.print(table)


def print_sample(answer: SampleAnswer) -> None:
    table = Table(title=f"up to {answer.n} keys of tenant {answer.tenant} per region")
    for column in ("region", "event_id", "shard"):
        table.add_column(column)
    for region in answer.regions:
        if region.error:
            table.add_row(region.region, _failed(region.error), "")
        for sampled in region.keys:
            table.add_row(region.region, sampled.event_id, str(sampled.shard))
    console.print(table)


def print_key(answer: KeyAnswer) -> None:
    table = Table(title=f"{answer.tenant}/{answer.event_id}")
    for column in ("region", "ring", "ring size", "shard", "holds", "tier"):
        table.add_column(column)
    for region in answer.regions:
        if region.error:
            table.add_row(region.region, _failed(region.error), "", "", "", "")
        for place in region.placements:
            holds = "?" if place.holds is None else ("yes" if place.holds else "no")
            table.add_row(
                region.region,
                place.ring,
                str(place.ring_size),
                str(place.shard),
                holds if place.error is None else _failed(place.error),
                place.body_tier or "-",
            )
    console.print(table)


def print_migrations(answer: MigrationsAnswer) -> None:
    for name, error in answer.unavailable.items():
        console.print(f"[yellow]region {name} unavailable:[/yellow] {error}", highlight=False)
    if not answer.migrations:
        console.print("no re-sharding run in any region's routing table")
        return
    table = Table(title="re-sharding runs")
    for column in ("id", "region", "ring", "phase", "active", "started", "updated"):
        table.add_column(column)
    for run in answer.migrations:
        table.add_row(
            run.id,
            run.region,
            f"{run.from_ring_size} -> {run.to_ring_size or '?'}",
            run.phase.value,
            "yes" if run.active else "no",
            run.started_at.isoformat(timespec="seconds"),
            run.updated_at.isoformat(timespec="seconds"),
        )
    console.print(table)


def print_migration(run: MigrationInfo) -> None:
    print_migrations(MigrationsAnswer(migrations=[run], unavailable={}))
    table = Table(title=f"epochs of {run.id}")
    for column in ("epoch", "phase", "ring", "next ring", "appended"):
        table.add_column(column)
    for epoch in run.epochs:
        table.add_row(
            str(epoch.epoch),
            epoch.phase.value,
            str(epoch.ring_size),
            "-" if epoch.next_ring_size is None else str(epoch.next_ring_size),
            epoch.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


def _route(route: RouteInfo | None, error: str | None) -> str:
    if route is None:
        return _failed(error)
    migrating = "" if route.next_ring_size is None else f" -> {route.next_ring_size}"
    return f"epoch {route.epoch}, ring {route.ring_size}{migrating}, {route.phase.value}"


def _failed(error: str | None) -> str:
    return f"[red]{escape(error or '')}[/red]"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
