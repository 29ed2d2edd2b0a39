"""CRR robustness on the embedded stack, stream us/n1 replayed into eu (whose store is GCS).

A manifest missing from the replayer's store blocks replay exactly at the gap and says so through
`wal_crr_manifest_gap`; tampered bytes, a segment or a manifest, are never applied (I5) and pause
the replayer with an error naming the check that failed. Each case heals once the original object
is back, to dedup state byte-identical with the source region's.

The objects are changed in eu's store only, while the replayer into eu is paused, so what it sees
on resume is exactly what the test arranged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from temporalio.client import Client, WorkflowHandle

from activities.crr_models import LongPoll
from ledger.config import Settings
from ledger.manifest import manifest_bytes, parse_manifest
from ledger.manifest_ref import ManifestRef
from storage.crr.replay import list_manifests_after
from storage.dedup.store import DedupStore
from storage.objectstore import ObjectStore, open_object_store
from storage.wal import sealed_segments_after, stream_directory
from tests.conftest import RunningStack
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from workers.crr_control import start_crr
from workflows import queues
from workflows.replay_wal import ReplayStatus, ReplayWalInput, ReplayWalWorkflow, replay_workflow_id
from workflows.ship_wal import ShipStatus, ShipWalInput, ShipWalWorkflow, ship_workflow_id

ACME = tenant("acme")
STREAM = "us/n1"
REPLAY_INTO_EU = replay_workflow_id("us", "n1", "eu")
SHIP_US = ship_workflow_id("us", "n1")
GAP_LABELS = {"source": STREAM, "target": "eu"}
IDLE_WAIT_S = 1.0


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crrgap")
    await register(settings, ACME)
    # An idle listing returns after IDLE_WAIT_S, so a replayer blocked on a gap reports it soon.
    return settings.model_copy(
        update={"crr": settings.crr.model_copy(update={"idle_wait_s": IDLE_WAIT_S})}
    )


# --- waiting ------------------------------------------------------------------------------------


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 30
) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout_s}s still not: {what}")
        await asyncio.sleep(0.2)


# --- ingest: one round, one segment -------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """The events of one ingest round and their seqs; a round fills exactly one segment."""

    seqs: dict[str, int]

    @property
    def first_seq(self) -> int:
        return min(self.seqs.values())

    @property
    def last_seq(self) -> int:
        return max(self.seqs.values())


async def ingest_rounds(cluster: Cluster, label: str, rounds: int, size: int = 5) -> list[Round]:
    """Post `rounds` batches into us, each only once the previous one's segment is sealed, so
    every batch is a segment - and a manifest - of its own (segments seal at 1 s of age)."""
    wal = stream_directory(Path(cluster.settings.region("us").wal_dir), STREAM)
    done: list[Round] = []
    for number in range(rounds):
        events = [
            ACME.event(f"{label}-{number}-{i}", {"round": number, "i": i}) for i in range(size)
        ]
        results = await cluster.post("us", events)
        assert {r["status"] for r in results} == {"accepted"}, results
        batch = Round(
            {event["event_id"]: r["seq"] for event, r in zip(events, results, strict=True)}
        )

        async def sealed(through: int = batch.last_seq) -> bool:
            segments = await asyncio.to_thread(sealed_segments_after, wal, through - 1)
            return any(s.last_seq is not None and s.last_seq >= through for s in segments)

        await eventually(sealed, f"the segment holding seq {batch.last_seq} sealed")
        done.append(batch)
    return done


async def shipped_manifests(store: ObjectStore, through_seq: int) -> list[ManifestRef]:
    """The stream's manifests in `store` once they cover every seq up to `through_seq`."""
    refs: list[ManifestRef] = []

    async def covered() -> bool:
        nonlocal refs
        refs = (await list_manifests_after(store, STREAM, 0, limit=1000)).ready
        return bool(refs) and refs[-1].last_seq >= through_seq

    await eventually(covered, f"{STREAM} shipped through seq {through_seq} to {store.describe()}")
    return refs


# --- the replayer into eu -----------------------------------------------------------------------


def replayer(client: Client) -> WorkflowHandle[object, object]:
    return client.get_workflow_handle(REPLAY_INTO_EU)


async def replay_status(client: Client) -> ReplayStatus:
    status: ReplayStatus = await replayer(client).query("status", result_type=ReplayStatus)
    return status


async def replay_status_when(
    client: Client, condition: Callable[[ReplayStatus], bool]
) -> ReplayStatus:
    """The replayer's status once `condition` holds for it."""
    found: list[ReplayStatus] = []

    async def holds() -> bool:
        found[:] = [await replay_status(client)]
        return condition(found[0])

    try:
        await eventually(holds, f"{REPLAY_INTO_EU}'s status meets the condition")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last status: {found}") from None
    return found[0]


async def pause_replay(client: Client) -> None:
    await replayer(client).signal("pause")

    async def paused() -> bool:
        return (await replay_status(client)).paused

    await eventually(paused, f"{REPLAY_INTO_EU} paused")


async def resume_replay(client: Client) -> None:
    await replayer(client).signal("resume")


async def applied_through(eu: DedupStore, seq: int) -> None:
    async def reached() -> bool:
        return await eu.applied_position(STREAM) >= seq

    await eventually(reached, f"eu applied {STREAM} through seq {seq}")


async def digests(settings: Settings) -> dict[str, str]:
    found: dict[str, str] = {}
    for region in settings.regions:
        async with await DedupStore.open(settings.region(region)) as store:
            found[region] = await store.dump_digest_total()
    return found


def gap_gauge(name: str = "wal_crr_manifest_gap") -> float | None:
    # The replay activities run in this process, so their gauges are in its default registry.
    return REGISTRY.get_sample_value(name, GAP_LABELS)


# --- a gap ---------------------------------------------------------------------------------------


async def test_a_missing_manifest_blocks_replay_at_the_gap_until_it_is_back(
    settings: Settings,
) -> None:
    eu_store = open_object_store(settings.region("eu").object_store)
    async with (
        running_cluster(settings) as cluster,
        await DedupStore.open(settings.region("eu")) as eu,
    ):
        await start_crr(cluster.client, settings)
        await pause_replay(cluster.client)
        rounds = await ingest_rounds(cluster, "gap", 3)
        refs = await shipped_manifests(eu_store, rounds[-1].last_seq)
        assert [(m.first_seq, m.last_seq) for m in refs] == [
            (r.first_seq, r.last_seq) for r in rounds
        ]
        before, missing, after = refs
        # Everything is shipped. A running shipper audits its targets at each continue-as-new
        # and would copy the manifest back from us's store: paused, it leaves the gap alone.
        await cluster.client.get_workflow_handle(SHIP_US).signal("pause")

        # Move the middle manifest away: the one after it is still there, so this is a gap.
        moved = await eu_store.get(missing.key)
        await eu_store.delete(missing.key)
        await resume_replay(cluster.client)

        async def blocked() -> bool:
            status = await replay_status(cluster.client)
            return (
                gap_gauge() == 1
                and status.state.blocked_on_gap_at_seq == missing.first_seq
                and await eu.applied_position(STREAM) == before.last_seq
            )

        await eventually(blocked, f"replay blocked at the gap after seq {before.last_seq}")
        status = await replay_status(cluster.client)
        assert not status.paused and status.state.last_error is None
        # It keeps waiting at the gap, skipping nothing, and without spinning: a listing that
        # sees only a gap waits out its idle time (a spinning replayer adds ~50 events a second).
        run_before = await replayer(cluster.client).describe()
        await asyncio.sleep(3 * IDLE_WAIT_S)
        run_after = await replayer(cluster.client).describe()
        assert run_after.run_id == run_before.run_id, "continued as new while idle at a gap"
        grown = run_after.history_length - run_before.history_length
        assert grown <= 4 * 6, f"{grown} history events in {3 * IDLE_WAIT_S}s at a gap"
        assert await eu.applied_position(STREAM) == before.last_seq
        assert gap_gauge() == 1
        assert (gap_gauge("wal_crr_manifest_gap_seconds") or 0) > 0
        for event_id in {**rounds[1].seqs, **rounds[2].seqs}:
            assert await eu.get_event("acme", event_id) is None

        # The manifest is back: replay goes on through it and the one after, and the gap clears.
        await eu_store.put(missing.key, moved)
        await applied_through(eu, after.last_seq)

        async def cleared() -> bool:
            return gap_gauge() == 0 and gap_gauge("wal_crr_manifest_gap_seconds") == 0

        await eventually(cleared, "the gap gauges back at 0")
        await replay_status_when(
            cluster.client,
            lambda s: (
                s.state.applied_seq == after.last_seq and s.state.blocked_on_gap_at_seq is None
            ),
        )
        found = await digests(settings)
        assert found["us"] == found["eu"]


# --- tampering (I5) ------------------------------------------------------------------------------


def flip_one_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def later_shipped_at(data: bytes) -> bytes:
    """The same manifest, still in canonical form, claiming to be shipped 1 ms later: only its
    signature can tell."""
    manifest = parse_manifest(data)
    changed = manifest.model_copy(update={"shipped_at_ms": manifest.shipped_at_ms + 1})
    tampered = manifest_bytes(changed)
    assert parse_manifest(tampered) == changed  # well-formed and canonical
    return tampered


@dataclass(frozen=True)
class Tampering:
    name: str
    key_of: Callable[[ManifestRef, bytes], str]  # (manifest ref, manifest bytes) -> key to change
    change: Callable[[bytes], bytes]
    reported: str  # what the replayer's error names


TAMPERINGS = [
    Tampering(
        "segment",
        lambda _ref, manifest: parse_manifest(manifest).segment,
        flip_one_byte,
        "SHA-256 differs from the manifest's",
    ),
    Tampering(
        "manifest",
        lambda ref, _manifest: ref.key,
        later_shipped_at,
        "signature does not verify",
    ),
]


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=lambda t: t.name)
async def test_tampered_bytes_are_never_applied_and_replay_pauses_until_restored(
    settings: Settings, tampering: Tampering
) -> None:
    eu_store = open_object_store(settings.region("eu").object_store)
    async with (
        running_cluster(settings) as cluster,
        await DedupStore.open(settings.region("eu")) as eu,
    ):
        await start_crr(cluster.client, settings)
        await pause_replay(cluster.client)
        clean_round, tampered_round = await ingest_rounds(cluster, tampering.name, 2)
        clean, tampered = await shipped_manifests(eu_store, tampered_round.last_seq)

        key = tampering.key_of(tampered, await eu_store.get(tampered.key))
        original = await eu_store.get(key)
        await eu_store.put(key, tampering.change(original))
        await resume_replay(cluster.client)

        async def paused_on_error() -> bool:
            status = await replay_status(cluster.client)
            return status.paused and status.state.last_error is not None

        await eventually(paused_on_error, f"{REPLAY_INTO_EU} paused on the tampered {key}")
        status = await replay_status(cluster.client)
        error = status.state.last_error or ""
        assert error.startswith("VerificationError: "), error
        assert tampering.reported in error and key in error, error
        # The clean segment before it was applied; nothing of the tampered one was.
        assert await eu.applied_position(STREAM) == clean.last_seq
        assert status.state.applied_seq == clean.last_seq
        for event_id in clean_round.seqs:
            assert await eu.get_event("acme", event_id) is not None
        for event_id in tampered_round.seqs:
            assert await eu.get_event("acme", event_id) is None
        # Paused means paused: it does not try again by itself.
        await asyncio.sleep(1.0)
        assert await eu.applied_position(STREAM) == clean.last_seq

        # The original bytes are back: on resume it verifies, applies and converges.
        await eu_store.put(key, original)
        await resume_replay(cluster.client)
        await applied_through(eu, tampered.last_seq)
        # The workflow records an apply once the activity's transaction has committed.
        status = await replay_status_when(
            cluster.client, lambda s: s.state.applied_seq == tampered.last_seq
        )
        assert not status.paused and status.state.last_error is None
        assert status.state.records_applied == tampered_round.last_seq
        found = await digests(settings)
        assert found["us"] == found["eu"]


# --- a pause that comes with the start ---------------------------------------------------------


async def test_a_pause_sent_with_the_start_holds(settings: Settings) -> None:
    """`crr pause` right after `crr start`, before a worker has run the new workflows: the
    signal then comes with the first workflow task, and it must hold all the same."""
    eu_store = open_object_store(settings.region("eu").object_store)
    poll = LongPoll(wait_s=IDLE_WAIT_S, interval_s=settings.crr.poll_interval_s)
    async with (
        running_cluster(settings) as cluster,
        await DedupStore.open(settings.region("eu")) as eu,
    ):
        client = cluster.client
        ship = await client.start_workflow(
            ShipWalWorkflow.run,
            ShipWalInput(
                region="us",
                node="n1",
                poll=poll,
                max_concurrent_uploads=settings.crr.max_concurrent_uploads,
            ),
            id=SHIP_US,
            task_queue=queues.CRR,
            start_signal="pause",
        )
        replay = await client.start_workflow(
            ReplayWalWorkflow.run,
            ReplayWalInput(source_region="us", source_node="n1", into_region="eu", poll=poll),
            id=REPLAY_INTO_EU,
            task_queue=queues.CRR,
            start_signal="pause",
        )
        [batch] = await ingest_rounds(cluster, "paused", 1)
        await asyncio.sleep(2 * IDLE_WAIT_S)
        ship_status: ShipStatus = await ship.query("status", result_type=ShipStatus)
        assert ship_status.paused and ship_status.state.segments_shipped == 0
        assert (await replay_status(client)).paused
        assert (await list_manifests_after(eu_store, STREAM, 0, limit=10)).ready == []

        await replay.signal("resume")
        await ship.signal("resume")
        await applied_through(eu, batch.last_seq)
