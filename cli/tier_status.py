"""`geoledger tier status [--tenant T] [--json]`: each tenant's bodies and bytes by tier in every
region, its policy, the estimated monthly cost and its demotion schedule."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from temporalio.client import Client

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from ledger.byte_size import human_bytes
from ledger.config import Settings
from ledger.tier_policy import TierPolicyError
from storage.tiering.stats import TIERS
from workers.client import connect
from workers.tier_schedule_status import ScheduleStatus
from workers.tier_status import TenantInRegion, TenantStatus, TierStatus, tier_status

TEMPORAL_CONNECT_TIMEOUT_S = 5.0


def status(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant (default: all).")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Bodies and bytes by tier per tenant and region, policy, monthly cost estimate from the
    price table of geoledger.toml, and the `tier-demote-<tenant>` schedule."""
    settings = settings_from(config)
    try:
        result = asyncio.run(_status(settings, tenant))
    except TierPolicyError as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    if json_output:
        print_json(as_json(result))
    else:
        print_status(result)
    if result.unavailable and not result.tenants:
        fail(f"no region answered: {result.unavailable}", ExitCode.UNAVAILABLE)


async def _status(settings: Settings, tenant: str | None) -> TierStatus:
    client = await _temporal(settings)
    return await tier_status(settings, client, tenant, int(time.time() * 1000))


async def _temporal(settings: Settings) -> Client | None:
    try:
        return await asyncio.wait_for(connect(settings), TEMPORAL_CONNECT_TIMEOUT_S)
    except Exception:  # status still shows the databases' side without Temporal
        return None


def as_json(result: TierStatus) -> dict[str, Any]:
    return {
        "as_of_ms": result.as_of_ms,
        "tenants": {t.tenant: _tenant_json(t) for t in result.tenants},
        "unavailable": result.unavailable,
        "schedules_unavailable": result.schedules_unavailable,
    }


def _tenant_json(tenant: TenantStatus) -> dict[str, Any]:
    return {
        "regions": {r.region: _region_json(r) for r in tenant.regions},
        "monthly_cost_usd": round(tenant.monthly_cost_usd, 6),
        "schedule": _schedule_json(tenant.schedule),
    }


def _region_json(region: TenantInRegion) -> dict[str, Any]:
    tiers = region.stats.tiers
    return {
        "tiers": {t: {"entries": tiers[t].entries, "bytes": tiers[t].stored_bytes} for t in TIERS},
        "compression_ratio": region.stats.compression_ratio(),
        "demotion_lag_s": region.demotion_lag_s,
        "policy": region.policy.model_dump() if region.policy else None,
        "monthly_cost_usd": None
        if region.monthly_cost_usd is None
        else round(region.monthly_cost_usd, 6),
    }


def _schedule_json(schedule: ScheduleStatus | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    last = schedule.last_run
    return {
        "id": schedule.schedule_id,
        "exists": schedule.exists,
        "paused": schedule.paused,
        "interval_s": schedule.interval_s,
        "next_run": _time(schedule.next_run),
        "last_run": None
        if last is None
        else {
            "started_at": _time(last.started_at),
            "workflow_id": last.workflow_id,
            "status": last.status,
        },
    }


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def print_status(result: TierStatus) -> None:
    """The tables and lines `geoledger tier status` prints (also shown by `geoledger demo`)."""
    for name, reason in result.unavailable.items():
        console.print(f"[yellow]region {name} unavailable:[/yellow] {reason}", highlight=False)
    if result.schedules_unavailable:
        console.print(f"[yellow]schedules unknown:[/yellow] {result.schedules_unavailable}")
    if not result.tenants:
        console.print("no tenant has bodies in any region")
    for tenant in result.tenants:
        table = Table(title=f"tenant {tenant.tenant}")
        for column in ("region", "tier", "entries", "bytes", "ratio", "behind", "$/month"):
            table.add_column(column, justify="left" if column in ("region", "tier") else "right")
        for region in tenant.regions:
            for tier in TIERS:
                count = region.stats.tiers[tier]
                table.add_row(
                    region.region, tier, str(count.entries), human_bytes(count.stored_bytes)
                )
            ratio = region.stats.compression_ratio()
            table.add_row(
                region.region,
                "all",
                str(sum(c.entries for c in region.stats.tiers.values())),
                human_bytes(sum(c.stored_bytes for c in region.stats.tiers.values())),
                "-" if ratio is None else f"{ratio:.2f}x",
                "-" if region.demotion_lag_s is None else f"{region.demotion_lag_s:.0f}s",
                "-" if region.monthly_cost_usd is None else f"{region.monthly_cost_usd:.4f}",
                end_section=True,
            )
        console.print(table)
        for region in tenant.regions:
            console.print(f"  policy in {region.region}: {_policy_line(region)}", highlight=False)
        console.print(f"  schedule: {_schedule_line(tenant.schedule)}", highlight=False)
        console.print(
            f"  estimated ${tenant.monthly_cost_usd:.4f}/month (example prices unless "
            "[tier_status.prices] says otherwise)",
            highlight=False,
            markup=False,
        )


def _policy_line(region: TenantInRegion) -> str:
    policy = region.policy
    if policy is None:
        return "invalid (see `geoledger tier policy show`)"
    retention = "forever" if policy.retention_days is None else f"{policy.retention_days}d"
    compression = f"zstd {policy.compression_level}" if policy.compression else "none"
    return (
        f"hot {policy.hot_ttl_days}d, warm {policy.warm_ttl_days}d, retention {retention}, "
        f"compression {compression}{', dictionary' if policy.dictionary else ''}, "
        f"cold s3={policy.cold_class_s3} gcs={policy.cold_class_gcs}"
        f"{', legal hold' if policy.legal_hold else ''}"
    )


def _schedule_line(schedule: ScheduleStatus | None) -> str:
    if schedule is None:
        return "unknown (Temporal not reachable)"
    if not schedule.exists:
        return f"no schedule ({schedule.schedule_id})"
    parts = [schedule.schedule_id, "paused" if schedule.paused else "active"]
    if schedule.interval_s is not None:
        parts.append(f"every {schedule.interval_s:.0f}s")
    if schedule.next_run is not None:
        parts.append(f"next {_time(schedule.next_run)}")
    last = schedule.last_run
    if last is not None:
        parts.append(f"last {last.workflow_id} started {_time(last.started_at)}: {last.status}")
    else:
        parts.append("never run")
    return ", ".join(parts)
