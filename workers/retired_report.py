"""`crr status`'s retired streams: each stream marked retired in any region's control database
(storage/crr/retired.py), its last seq, and how far each region that receives it has applied it.
A retired stream is complete: once every such region applied its last seq, nothing more comes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.crr.retired import RetiredStream, read_retired
from storage.dedup.store import DedupStore


@dataclass(frozen=True)
class RetiredStreamStatus:
    stream: str
    last_seq: int
    retired_at_ms: int
    # Region -> the seq its dedup store applied the stream through.
    applied: dict[str, int]

    @property
    def complete(self) -> bool:
        return all(seq >= self.last_seq for seq in self.applied.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


async def retired_report(settings: Settings) -> list[RetiredStreamStatus]:
    """Every retired stream, from the marks of every region (a region down contributes none)."""
    marks: dict[str, RetiredStream] = {}
    for region in settings.regions.values():
        marks.update(await read_retired(region.control_dsn))
    rows: list[RetiredStreamStatus] = []
    for stream, mark in sorted(marks.items()):
        applied = {r: await _applied(settings, r, stream) for r in _receivers(settings, stream)}
        rows.append(RetiredStreamStatus(stream, mark.last_seq, mark.retired_at_ms, applied))
    return rows


def _receivers(settings: Settings, stream: str) -> list[str]:
    """The stream's own region and the regions it ships to (every region when its own is gone)."""
    source = StreamId.parse(stream).region
    if source not in settings.regions:
        return sorted(settings.regions)
    targets = settings.regions[source].ship_targets
    return sorted({source, *(t for t in targets if t in settings.regions)})


async def _applied(settings: Settings, region: str, stream: str) -> int:
    async with await DedupStore.open(settings.region(region)) as dedup:
        return await dedup.applied_position(stream)
