"""CRR over time on the embedded stack: the lag of a stream is exported while nothing ships at all
(so it can alert), and the CRR workflows keep their state across continue-as-new.

The test Temporal server suggests continue-as-new after 200 history events (tests/conftest.py);
with short idle listings, idle polling alone gets the workflows there in seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from ledger.config import Settings
from storage.crr.naming import manifests_prefix
from storage.dedup.store import DedupStore
from storage.objectstore import ObjectStore, open_object_store
from tests.conftest import RunningStack
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from workers.crr_control import start_crr
from workflows.replay_wal import ReplayState, ReplayStatus, replay_workflow_id
from workflows.ship_wal import ShipState, ShipStatus, ship_workflow_id

ACME = tenant("acme")
STREAM = "us/n1"
SHIP_US = ship_workflow_id("us", "n1")
REPLAY_INTO_EU = replay_workflow_id("us", "n1", "eu")
LAG_LABELS = {"source": STREAM, "target": "eu"}
IDLE_WAIT_S = 0.2


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crrlag")
    await register(settings, ACME)
    return settings


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 30
) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout_s}s still not: {what}")
        await asyncio.sleep(0.2)


def lag() -> float | None:
    # us/n1's lag monitor runs as a background task of the node's worker, in this process.
    return REGISTRY.get_sample_value("wal_crr_lag_seconds", LAG_LABELS)


async def ingest(cluster: Cluster, label: str, count: int = 10) -> int:
    """Post `count` events into us; the last seq they got."""
    events = [ACME.event(f"{label}-{i}", {"i": i}) for i in range(count)]
    results = await cluster.post("us", events)
    assert {r["status"] for r in results} == {"accepted"}, results
    return max(int(r["seq"]) for r in results)


async def applied_in_eu(settings: Settings) -> int:
    async with await DedupStore.open(settings.region("eu")) as eu:
        return await eu.applied_position(STREAM)


async def converged(settings: Settings, last_seq: int) -> None:
    async def reached() -> bool:
        return await applied_in_eu(settings) >= last_seq

    await eventually(reached, f"eu applied {STREAM} through seq {last_seq}")


async def manifest_count(store: ObjectStore) -> int:
    return len([info async for info in store.list(prefix=manifests_prefix(STREAM))])


async def statuses_through(
    ship: WorkflowHandle[object, object], replay: WorkflowHandle[object, object], seq: int
) -> tuple[ShipState, ReplayState]:
    """The ship and replay states once both workflows have recorded `seq` (each records a step
    once its activity has returned, a moment after the step's effect is visible)."""
    found: list[ShipState | ReplayState] = []

    async def recorded() -> bool:
        ship_status: ShipStatus = await ship.query("status", result_type=ShipStatus)
        replay_status: ReplayStatus = await replay.query("status", result_type=ReplayStatus)
        shipped, replayed = ship_status.state, replay_status.state
        found[:] = [shipped, replayed]
        return shipped.last_seq == seq and replayed.applied_seq == seq

    try:
        await eventually(recorded, f"ship and replay states through seq {seq}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last states: {found}") from None
    shipped, replayed = found
    assert isinstance(shipped, ShipState) and isinstance(replayed, ReplayState)
    return shipped, replayed


async def test_lag_is_exported_while_nothing_ships_and_returns_to_zero_after(
    settings: Settings,
) -> None:
    async with running_cluster(settings) as cluster:
        # Workers run, and with them us/n1's lag monitor; CRR is not started.
        async def nothing_waiting() -> bool:
            return lag() == 0

        await eventually(nothing_waiting, "lag 0 for a stream with no records", timeout_s=10)
        last_seq = await ingest(cluster, "lag")

        async def lagging() -> bool:
            return (lag() or 0) > 0

        await eventually(lagging, "lag above 0 after an ingest", timeout_s=3)
        first = lag() or 0

        async def grown() -> bool:
            return (lag() or 0) >= first + 1

        await eventually(grown, f"lag grown by a second past {first:.2f}s", timeout_s=4)
        # Nothing was shipped or applied meanwhile: the lag is measured, not derived from CRR.
        eu_store = open_object_store(settings.region("eu").object_store)
        assert await manifest_count(eu_store) == 0
        assert await applied_in_eu(settings) == 0

        await start_crr(cluster.client, settings)
        await converged(settings, last_seq)

        async def caught_up() -> bool:
            return lag() == 0

        await eventually(caught_up, "lag back at 0 after convergence", timeout_s=10)


async def test_crr_state_survives_continue_as_new(settings: Settings) -> None:
    # Idle listings return after IDLE_WAIT_S, so idle polling alone reaches the server's
    # continue-as-new suggestion in seconds (an idle listing is 6 history events).
    settings = settings.model_copy(
        update={"crr": settings.crr.model_copy(update={"idle_wait_s": IDLE_WAIT_S})}
    )
    us_store = open_object_store(settings.region("us").object_store)
    async with running_cluster(settings) as cluster:
        client = cluster.client
        await start_crr(client, settings)
        ship, replay = (
            client.get_workflow_handle(SHIP_US),
            client.get_workflow_handle(REPLAY_INTO_EU),
        )
        first_runs = {SHIP_US: (await ship.describe()).run_id}
        first_runs[REPLAY_INTO_EU] = (await replay.describe()).run_id

        before = await ingest(cluster, "before")
        await converged(settings, before)
        shipped_before = (await statuses_through(ship, replay, before))[0]
        assert shipped_before.segments_shipped == await manifest_count(us_store) >= 1

        # Idle polling grows the histories until the server suggests continue-as-new.
        async def both_continued() -> bool:
            described = [await ship.describe(), await replay.describe()]
            return all(
                d.run_id != first_runs[d.id] and d.status == WorkflowExecutionStatus.RUNNING
                for d in described
            )

        await eventually(both_continued, "ship and replay continued as new", timeout_s=60)

        after = await ingest(cluster, "after")
        await converged(settings, after)
        shipped, replayed = await statuses_through(ship, replay, after)
        # Counters are cumulative over both runs: the state went along with continue-as-new.
        assert shipped.segments_shipped == await manifest_count(us_store)
        assert shipped.segments_shipped > shipped_before.segments_shipped
        assert shipped.raw_bytes_shipped > shipped_before.raw_bytes_shipped
        assert replayed.applied_seq == after
        assert replayed.records_applied == after
        assert replayed.accepted == after
