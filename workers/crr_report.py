"""`crr status`: per stream, what is shipped, what each target has applied, and the lag - from the
workflows' own state and, authoritatively, from the dedup stores' replay watermarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from temporalio.client import Client

from activities.region_resources import RegionResources
from ledger.config import Settings
from workers.crr_control import crr_statuses, crr_workflows
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
            region, node = ref.stream.split("/", 1)
            monitor = LagMonitor(settings, region, node, resources)
            errors = [s.state.last_error for s in (ship, replay) if s and s.state.last_error]
            rows.append(
                StreamTargetStatus(
                    stream=ref.stream,
                    target=ref.target,
                    shipped_seq=ship.state.last_seq if ship else None,
                    applied_seq=await dedup.applied_position(ref.stream),
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
