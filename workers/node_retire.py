"""Retiring an ingest node that leaves for good (`geoledger ingest retire`, the preStop hook of
a Kubernetes ingest pod): drain it (no more writes, open segment sealed), wait until its shipper
has committed its last segment in every ship target, then mark its stream retired in every
region's control database (storage/crr/retired.py). Only then may its volume go: every event the
node acknowledged is in every ship target, and from there in every region.

Each step is idempotent, so a retire that stopped part-way (timeout, a region down) is re-run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.crr.committed import committed_through
from storage.crr.retired import mark_retired
from storage.objectstore import ObjectStore
from storage.objectstore.factory import open_object_store

SHIP_POLL_S = 0.5


class RetireError(Exception):
    """A step of the retirement could not be done; `step` names it (drain, ship, mark)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class ShipTimeout(RetireError):
    """The last segment was not committed in every ship target in time: the node is drained,
    nothing is lost, and a re-run waits again."""


@dataclass
class RetireProgress:
    """Where a retirement stands: the step under way, the stream's last seq once drained, and
    the seq each ship target has committed through."""

    stream: str
    step: str
    last_seq: int | None = None
    committed: dict[str, int] = field(default_factory=dict)


@dataclass
class RetireReport:
    stream: str
    last_seq: int
    committed: dict[str, int]
    marked: list[str]
    # Regions whose control database could not be marked, and why (re-run the retire).
    failed: dict[str, str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


ProgressHook = Callable[[RetireProgress], None]


async def retire_node(
    settings: Settings,
    region: str,
    node: str,
    node_client: httpx.AsyncClient,
    timeout_s: float,
    on_progress: ProgressHook | None = None,
) -> RetireReport:
    """Retire `<region>/<node>`, whose ingest API `node_client` reaches from the node's own host.

    Requires the region to ship somewhere (a region without ship targets keeps the only copy on
    the node's volume). Raises RetireError (drain), ShipTimeout (ship) or ValueError (bad input).
    """
    started = time.monotonic()
    stream = str(StreamId(region, node))
    config = settings.region(region)
    if node not in {n.name for n in config.nodes}:
        raise ValueError(f"region {region} has no node {node!r}")
    if not config.ship_targets:
        raise ValueError(f"region {region} has no ship_targets: the node's volume is the only copy")
    progress = RetireProgress(stream, "drain")
    _report(on_progress, progress)
    # 1. No more writes, and everything acknowledged in a sealed segment.
    progress.last_seq = await _drain(node_client, stream)
    # 2. The shipper beside the node commits that segment in every ship target.
    progress.step = "ship"
    stores = {t: open_object_store(settings.region(t).object_store) for t in config.ship_targets}
    await _until_committed(stores, progress, started + timeout_s, on_progress)
    # 3. The durable mark: the stream is complete through last_seq.
    progress.step = "mark"
    _report(on_progress, progress)
    dsns = {name: r.control_dsn for name, r in settings.regions.items()}
    marked, failed = await mark_retired(dsns, stream, progress.last_seq)
    return RetireReport(
        stream=stream,
        last_seq=progress.last_seq,
        committed=dict(progress.committed),
        marked=sorted(marked),
        failed=failed,
        seconds=round(time.monotonic() - started, 3),
    )


async def _drain(client: httpx.AsyncClient, stream: str) -> int:
    try:
        answer = await client.post("/drain")
    except httpx.HTTPError as exc:
        raise RetireError("drain", f"{stream}: the node did not answer: {exc}") from exc
    if answer.status_code != 200:
        raise RetireError("drain", f"{stream}: drain answered {answer.status_code}: {answer.text}")
    body = answer.json()
    if body.get("stream") != stream:
        raise RetireError("drain", f"expected the node of {stream}, reached {body.get('stream')}")
    last_seq: int = body["last_seq"]
    return last_seq


async def _until_committed(
    stores: dict[str, ObjectStore],
    progress: RetireProgress,
    deadline: float,
    on_progress: ProgressHook | None,
) -> None:
    assert progress.last_seq is not None
    progress.committed = dict.fromkeys(stores, 0)
    while True:
        for target, store in stores.items():
            if progress.committed[target] < progress.last_seq:
                seen = progress.committed[target]
                progress.committed[target] = await committed_through(store, progress.stream, seen)
        _report(on_progress, progress)
        behind = {t: s for t, s in progress.committed.items() if s < progress.last_seq}
        if not behind:
            return
        if time.monotonic() > deadline:
            raise ShipTimeout(
                "ship",
                f"{progress.stream} through seq {progress.last_seq} not committed in time; "
                f"committed through {behind} (is the node's shipper worker running?)",
            )
        await asyncio.sleep(SHIP_POLL_S)


def _report(hook: ProgressHook | None, progress: RetireProgress) -> None:
    if hook is not None:
        hook(progress)
