"""`crr status`: per stream, what is shipped, what each target has applied, and the lag - from the
workflows' own state and, authoritatively, from the dedup stores' replay watermarks - and whether
every ship target holds the whole chain (a listing of each, compared: workers/crr_repair.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from temporalio.client import Client

from activities.region_resources import RegionResources
from ledger.config import Settings
from storage.objectstore import ObjectStoreError
from workers.crr_control import crr_statuses, crr_workflows
from workers.crr_repair import repair_stores
from workers.lag_monitor import LagMonitor
from workflows.replay_wal import ReplayStatus
from workflows.ship_wal import ShipStatus


@dataclass(frozen=True)
class StreamTargetStatus:
    stream: str
    target: str
    shipped_seq: int | None
    applied_seq: int
    lag_seconds: float | None
    ship_paused: bool | None
    replay_paused: bool | None
    gap_at_seq: int | None
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def crr_report(client: Client, settings: Settings) -> list[StreamTargetStatus]:
    statuses = await crr_statuses(client, settings)
    refs = crr_workflows(settings)
    ships = {r.stream: statuses.get(r.workflow_id) for r in refs if r.kind == "ship"}
    resources = RegionResources(settings)
    rows: list[StreamTargetStatus] = []
    try:
        for ref in refs:
            if ref.kind != "replay" or ref.target is None:
                continue
            ship = ships.get(ref.stream)
            replay = statuses.get(ref.workflow_id)
            assert ship is None or isinstance(ship, ShipStatus)
            assert replay is None or isinstance(replay, ReplayStatus)
            dedup = await resources.dedup(ref.target)
            monitor = LagMonitor(settings, ref.stream.region, ref.stream.node, resources)
            errors = [s.state.last_error for s in (ship, replay) if s and s.state.last_error]
            rows.append(
                StreamTargetStatus(
                    stream=str(ref.stream),
                    target=ref.target,
                    shipped_seq=ship.state.last_seq if ship else None,
                    applied_seq=await dedup.applied_position(str(ref.stream)),
                    lag_seconds=round(await monitor.lag_seconds(ref.target), 3),
                    ship_paused=ship.paused if ship else None,
                    replay_paused=replay.paused if replay else None,
                    gap_at_seq=replay.state.blocked_on_gap_at_seq if replay else None,
                    last_error="; ".join(errors) or None,
                )
            )
    finally:
        await resources.close()
    return rows


@dataclass(frozen=True)
class StoreTargetStatus:
    """Whether one ship target holds a stream's whole chain: `missing` counts the manifests and
    segments it lacks (those no target holds included), `problems` the conflicts and losses."""

    stream: str
    target: str
    missing: int | None
    problems: list[str]
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.missing == 0 and not self.problems and self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


async def store_report(settings: Settings) -> list[StoreTargetStatus]:
    """Every stream's ship targets compared (nothing copied: `crr repair-store` does that)."""
    try:
        summary = await repair_stores(settings, dry_run=True)
    except ObjectStoreError as exc:
        return [StoreTargetStatus("*", "*", None, [], error=str(exc))]
    rows: list[StoreTargetStatus] = []
    for stream in summary.streams:
        lost = [p for p in stream.problems if not p.target]
        for target in stream.missing:
            problems = [f"{p.key}: {p.reason}" for p in stream.problems if p.target in ("", target)]
            rows.append(
                StoreTargetStatus(
                    stream.stream, target, stream.missing[target] + len(lost), problems
                )
            )
    return rows
