"""Ship runs prune the node's WAL behind them, against the real stores (moto, fake-gcs) and
PostgreSQL: only what every ship target holds and the node's own dedup store has applied goes;
afterwards everything that reads WAL still works - the lag monitor, a node restart with its
dedup catch-up, replay into the other region and `drill replay-from-scratch`, which read the
stores."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.crr_models import SegmentRef, ShipRunInput, ShipRunResult, StreamRef
from activities.region_resources import RegionResources
from activities.ship import ShipActivities
from api.ingest.node import catch_up_dedup
from api.ingest.serve import open_node
from ledger.config import Settings
from ledger.record import decode_record
from storage.crr.naming import manifest_key
from storage.crr.region_keys import manifest_public_key
from storage.crr.replay import list_manifests_after
from storage.crr.replay_run import AppliedSegment, ReplaySource, replay_run
from storage.crr.verify_events import EventVerifier
from storage.dedup.store import DedupStore
from storage.keys import KeyCache, KeyRegistry
from storage.objectstore import open_object_store
from storage.wal import WalPrunedError, WalWriter, list_segments, read_checkpoint
from tests.conftest import RunningStack
from tests.integration.test_crr_runs import ACME, PER_SEGMENT, SEGMENTS, STREAM, _write_wal
from tests.support.isolated import isolated_settings
from tests.support.tenants import register
from tests.support.wal import SEGMENT_LIMITS
from workers.drills.rebuild import rebuild_region
from workers.lag_monitor import LagMonitor

LAST = SEGMENTS * PER_SEGMENT


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "walprune")
    await register(settings, ACME)
    # No retention, so a test need not wait an hour; the age rule has its own unit test.
    wal = settings.wal.model_copy(update={"retain_shipped_s": 0.0})
    return settings.model_copy(update={"wal": wal})


async def _ship(shipper: ShipActivities, done: ShipRunResult, segments: range) -> ShipRunResult:
    """Ship the segments numbered `segments` (0-based) after `done`, as the workflow would."""
    refs = [
        SegmentRef(first_seq=index * PER_SEGMENT + 1, last_seq=(index + 1) * PER_SEGMENT)
        for index in segments
    ]
    request = ShipRunInput(
        source=StreamRef(region="us", node="n1"),
        after_seq=done.last_seq,
        prev_manifest_sha256=done.manifest_sha256,
        segments=refs,
        complete_commits_first=False,
    )
    result: ShipRunResult = await ActivityEnvironment().run(shipper.ship_run, request)
    return result


def _first_seqs(wal: Path) -> list[int]:
    return [info.first_seq for info in list_segments(wal)]


async def _replay_into_eu(settings: Settings) -> None:
    eu_store = open_object_store(settings.region("eu").object_store)
    refs = (await list_manifests_after(eu_store, STREAM, 0, 100)).ready
    registry = await KeyRegistry.open(settings, regions=["eu"])
    verifier = EventVerifier(KeyCache(registry), "eu")
    source = ReplaySource(
        STREAM, eu_store, manifest_public_key("us", settings.region("us")), verifier
    )

    async def note(segment: AppliedSegment) -> None:
        return None

    try:
        async with await DedupStore.open(settings.region("eu")) as eu:
            await replay_run(refs, source, eu, None, note)
            assert await eu.applied_position(STREAM) == LAST
    finally:
        verifier.close()
        await registry.close()


async def test_ship_runs_prune_behind_them_and_every_wal_reader_copes(settings: Settings) -> None:
    wal = await _write_wal(settings)
    resources = RegionResources(settings)
    shipper = ShipActivities(settings, "us", "n1", resources)
    try:
        # Shipped to every target, but the node's own dedup store has applied nothing: all stay.
        done = await _ship(shipper, ShipRunResult(last_seq=0, manifest_sha256=""), range(3))
        assert done.last_seq == 15
        assert _first_seqs(wal) == [1, 6, 11, 16, 21, 26]

        async with (
            await WalWriter.open(wal, STREAM, **SEGMENT_LIMITS) as writer,
            await DedupStore.open(settings.region("us")) as us,
        ):
            assert await catch_up_dedup(writer, us, STREAM) == LAST

        # Applied now; segment 4 (16-20) ships: everything through 20 goes, 21-25 (no manifest
        # yet) and 26-30 stay.
        done = await _ship(shipper, done, range(3, 4))
        assert _first_seqs(wal) == [21, 26]
        checkpoint = read_checkpoint(wal)
        assert (checkpoint.first_retained_seq, checkpoint.sealed_through_seq) == (21, LAST)
        for store in shipper.targets.values():
            head = hashlib.sha256(await store.get(manifest_key(STREAM, 16, 20))).hexdigest()
            assert (checkpoint.shipped_through_seq, checkpoint.manifest_sha256) == (20, head)

        # The rest ships; the newest sealed segment always stays.
        done = await _ship(shipper, done, range(4, SEGMENTS))
        assert done.last_seq == LAST
        assert _first_seqs(wal) == [26]

        # The lag monitor: eu lacks records that are pruned here; their age is bounded from
        # below by the newest pruned segment's seal time.
        monitor = LagMonitor(settings, "us", "n1", resources)
        lag = await monitor.lag_seconds("eu")
        sealed_ago = time.time() - read_checkpoint(wal).pruned_sealed_at_ms / 1000
        assert lag > 0 and abs(lag - sealed_ago) < 1
        # A node whose dedup store is older than the pruned range (eu's store stands in for one
        # restored from an old backup) refuses to start, naming the seqs, and applies nothing.
        async with (
            await WalWriter.open(wal, STREAM, **SEGMENT_LIMITS) as writer,
            await DedupStore.open(settings.region("eu")) as stale,
        ):
            with pytest.raises(WalPrunedError, match=r"seqs 1\.\.25 were pruned"):
                await catch_up_dedup(writer, stale, STREAM)
            assert await stale.applied_position(STREAM) == 0
        # Replay reads the eu store, not this WAL.
        await _replay_into_eu(settings)
        assert await monitor.lag_seconds("eu") == 0.0
    finally:
        await resources.close()

    # The drill rebuilds the region from its store alone and agrees with the live state.
    report = await rebuild_region(settings, "us")
    assert report.ok, report.as_dict()
    rebuilt = next(s for s in report.streams if s.stream == STREAM)
    assert (rebuilt.rebuilt_seq, rebuilt.missing_from_store) == (LAST, 0)
    # A store that lost what the node applied (and pruned) fails the drill, naming how much.
    us_store = open_object_store(settings.region("us").object_store)
    for index in range(SEGMENTS):
        first, last = index * PER_SEGMENT + 1, (index + 1) * PER_SEGMENT
        await us_store.delete(manifest_key(STREAM, first, last))
    report = await rebuild_region(settings, "us", catch_up_s=0.5)
    lost = next(s for s in report.streams if s.stream == STREAM)
    assert not report.ok and (lost.rebuilt_seq, lost.missing_from_store) == (0, LAST)

    # The node restarts through its real start path: nothing to catch up, seqs go on gap-free
    # and its clock goes on from the newest record, which a pruned WAL still holds.
    async with await WalWriter.open(wal, STREAM, **SEGMENT_LIMITS) as writer:
        newest = writer.last_record()
        assert writer.stats.segments_read_at_open == 0 and newest is not None
    newest_hlc = decode_record(newest).hlc
    node = await open_node(settings, "us", "n1")
    try:
        body = json.dumps({"events": [ACME.event("after-restart", {"n": 1})]}).encode()
        [result] = await node.ingest(body)
        assert (result.status, result.seq) == ("accepted", LAST + 1)
        stored = await node.get("acme", "after-restart")
        assert stored is not None and int(stored["hlc"]) > newest_hlc
    finally:
        await node.close()
