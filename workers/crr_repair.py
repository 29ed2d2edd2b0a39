"""`crr repair-store` and the store part of `crr status`: every stream of a region (or of all),
compared across the region's ship targets window by window and repaired from peers
(storage/crr/store_repair.py), or only compared with `dry_run`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.crr.region_keys import manifest_public_key
from storage.crr.store_repair import Problem, StoreRepairReport, repair_stream
from storage.objectstore import ObjectStore, open_object_store


@dataclass
class StreamRepair:
    """One stream across its ship targets, summed over every window."""

    stream: str
    missing: dict[str, int]  # target -> objects it lacked that a peer holds
    repaired: dict[str, int]
    through_seq: int = 0
    problems: list[Problem] = field(default_factory=list)

    def remaining(self, target: str) -> int:
        return self.missing[target] - self.repaired[target]

    @property
    def ok(self) -> bool:
        return not self.problems and not any(self.remaining(t) for t in self.missing)

    def add(self, window: StoreRepairReport) -> None:
        for target in self.missing:
            self.missing[target] += window.missing[target]
            self.repaired[target] += window.repaired[target]
        self.through_seq = window.through_seq
        self.problems += [*window.refused, *window.conflicts, *window.lost]


@dataclass
class StoreRepairSummary:
    dry_run: bool
    streams: list[StreamRepair]

    @property
    def ok(self) -> bool:
        return all(stream.ok for stream in self.streams)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "streams": [
                {**asdict(stream), "ok": stream.ok, "remaining": _remaining(stream)}
                for stream in self.streams
            ],
        }


def _remaining(stream: StreamRepair) -> dict[str, int]:
    return {target: stream.remaining(target) for target in stream.missing}


def shipped_streams(settings: Settings, region: str | None) -> list[tuple[str, str, list[str]]]:
    """(source region, stream, ship targets) of every stream of `region` (all when None)."""
    found: list[tuple[str, str, list[str]]] = []
    for name, config in settings.regions.items():
        if region not in (None, name):
            continue
        for node in config.nodes:
            stream = str(StreamId(name, node.name))
            found.append((name, stream, list(config.ship_targets or [name])))
    return found


async def repair_stores(
    settings: Settings,
    region: str | None = None,
    dry_run: bool = False,
    on_window: Callable[[str, StoreRepairReport], None] | None = None,
) -> StoreRepairSummary:
    """Compare (and unless `dry_run`, repair) the ship targets of every stream of `region`,
    `crr.store_audit_manifests` manifests at a time. Requires a configured region (or None).
    Raises ObjectStoreError when a target cannot be reached."""
    if region is not None:
        settings.region(region)
    stores: dict[str, ObjectStore] = {}
    summary = StoreRepairSummary(dry_run=dry_run, streams=[])
    for source, stream, target_names in shipped_streams(settings, region):
        for name in target_names:
            if name not in stores:
                stores[name] = open_object_store(settings.region(name).object_store)
        targets = {name: stores[name] for name in target_names}
        public_key = manifest_public_key(source, settings.region(source))
        result = StreamRepair(stream, {name: 0 for name in targets}, {name: 0 for name in targets})
        after_seq: int = 0
        after_sha256: str | None = ""
        while True:
            window = await repair_stream(
                targets,
                stream,
                public_key,
                after_seq,
                after_sha256,
                max_manifests=settings.crr.store_audit_manifests,
                dry_run=dry_run,
            )
            result.add(window)
            if on_window is not None:
                on_window(stream, window)
            if window.complete:
                break
            after_seq, after_sha256 = window.through_seq, window.through_sha256
        summary.streams.append(result)
    return summary
