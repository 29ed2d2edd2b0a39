"""A ship run that follows its stream (storage.crr.ship_run.ship_following), on the real stores
(moto S3 and fake-gcs): it ships what was sealed before it started and what is sealed while it
runs, woken by the seal rather than its poll, chains every manifest, stops at its limits, stops at
once when cancelled, and refuses a stream whose next segment is missing."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.envelope import parse_signed_event
from ledger.manifest import parse_manifest
from ledger.record import WalRecord, encode_record
from storage.crr.errors import SegmentNotFoundError
from storage.crr.follow import FollowLimits
from storage.crr.region_keys import signing_key
from storage.crr.replay import list_manifests_after
from storage.crr.ship_run import CommittedSegment, ShipContext, ship_following
from storage.objectstore import ObjectStore, open_object_store
from storage.wal import WalWriter, stream_directory
from storage.wal.naming import segment_file_name
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from tests.support.wal import SEGMENT_LIMITS

ACME = tenant("acme")
STREAM = "us/n1"
PER_SEGMENT = 3
# A poll this slow cannot explain a segment shipped within a second of its seal: the watch did.
SLOW_POLL_S = 5.0


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crrfollow")
    await register(settings, ACME)
    return settings


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for `condition` (a run ships within a poll, but a loaded machine may take longer)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def limits(**changes: float) -> FollowLimits:
    values: dict[str, float] = {
        "first_wait_s": 10.0,
        "idle_s": 0.5,
        "max_s": 30.0,
        "max_segments": 100,
        "batch": 4,
        "interval_s": SLOW_POLL_S,
    }
    values.update(changes)
    return FollowLimits(
        first_wait_s=values["first_wait_s"],
        idle_s=values["idle_s"],
        max_s=values["max_s"],
        max_segments=int(values["max_segments"]),
        batch=int(values["batch"]),
        interval_s=values["interval_s"],
    )


class Stream:
    """Node us/n1's WAL: sealed segments of PER_SEGMENT signed events each."""

    def __init__(self, settings: Settings) -> None:
        self.directory = stream_directory(Path(settings.region("us").wal_dir), STREAM)
        self.next_seq = 1
        self._writer: WalWriter | None = None
        self._hlc0 = time.time_ns() // 1_000_000 << 16

    async def seal(self, segments: int = 1) -> list[float]:
        """Write and seal `segments` more segments; the monotonic time of each seal."""
        if self._writer is None:
            self._writer = await WalWriter.open(self.directory, STREAM, **SEGMENT_LIMITS)
        sealed: list[float] = []
        for _ in range(segments):
            records = []
            for _ in range(PER_SEGMENT):
                seq = self.next_seq
                self.next_seq += 1
                event = parse_signed_event(ACME.event(f"evt-{seq}", {"seq": seq}))
                hlc = self._hlc0 + seq
                records.append(encode_record(WalRecord(hlc, "us", "n1", hlc >> 16, event)))
            await self._writer.append(records)
            await self._writer.seal()
            sealed.append(time.monotonic())
        return sealed

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()


def stores(settings: Settings) -> dict[str, ObjectStore]:
    return {name: open_object_store(settings.region(name).object_store) for name in ("us", "eu")}


class Shipper:
    """ship_following over the stream, noting each commit and when it happened."""

    def __init__(self, settings: Settings, stream: Stream) -> None:
        self.context = ShipContext(
            stream.directory,
            STREAM,
            stores(settings),
            signing_key("us", settings.region("us")),
            settings.crr.zstd_level,
        )
        self.committed: list[tuple[CommittedSegment, float]] = []
        self.idle_calls = 0

    async def run(self, follow: FollowLimits, after_seq: int = 0, prev: str = "") -> None:
        async def note(segment: CommittedSegment) -> None:
            self.committed.append((segment, time.monotonic()))

        async def idle() -> None:
            self.idle_calls += 1

        await ship_following(self.context, after_seq, prev, 2, follow, note, idle)

    @property
    def last_seqs(self) -> list[int]:
        return [segment.shipped.last_seq for segment, _ in self.committed]


async def assert_chained(settings: Settings, shipper: Shipper) -> None:
    """Every target holds the committed manifests, each chained to the one before."""
    for store in stores(settings).values():
        refs = (await list_manifests_after(store, STREAM, 0, 100)).ready
        manifests = [await store.get(ref.key) for ref in refs]
        assert [hashlib.sha256(m).hexdigest() for m in manifests] == [
            segment.manifest_sha256 for segment, _ in shipper.committed
        ]
        previous = ""
        for data in manifests:
            assert parse_manifest(data).prev_manifest_sha256 == previous
            previous = hashlib.sha256(data).hexdigest()


async def test_a_run_ships_what_is_sealed_while_it_follows_woken_by_the_seal(
    settings: Settings,
) -> None:
    stream = Stream(settings)
    try:
        await stream.seal(2)  # before the run starts
        shipper = Shipper(settings, stream)
        run = asyncio.ensure_future(shipper.run(limits()))
        await until(lambda: shipper.last_seqs == [3, 6])
        (sealed_at,) = await stream.seal()
        await asyncio.sleep(0.5)
        later = await stream.seal(2)
        started_waiting = time.monotonic()
        await asyncio.wait_for(run, timeout=SLOW_POLL_S)
    finally:
        await stream.close()

    assert shipper.last_seqs == [3, 6, 9, 12, 15]
    # Shipped within a second of its seal, though the run polls every 5 s: the watch woke it.
    assert shipper.committed[2][1] - sealed_at < 1.0
    assert shipper.committed[-1][1] - later[-1] < 1.0
    # Quiet for idle_s after its last commit, it returned (long before its first_wait_s or max_s).
    assert time.monotonic() - started_waiting < 0.5 + 1.5
    assert shipper.idle_calls >= 2
    await assert_chained(settings, shipper)


async def test_a_run_stops_after_max_segments_and_the_next_goes_on_from_there(
    settings: Settings,
) -> None:
    stream = Stream(settings)
    try:
        await stream.seal(5)
        shipper = Shipper(settings, stream)
        await asyncio.wait_for(shipper.run(limits(max_segments=3, batch=2)), timeout=10)
        assert shipper.last_seqs == [3, 6, 9]
        last, _ = shipper.committed[-1]
        await asyncio.wait_for(
            shipper.run(limits(idle_s=0.2), last.shipped.last_seq, last.manifest_sha256),
            timeout=10,
        )
    finally:
        await stream.close()
    assert shipper.last_seqs == [3, 6, 9, 12, 15]
    await assert_chained(settings, shipper)


async def test_a_run_with_nothing_sealed_returns_after_its_first_wait_or_max_s(
    settings: Settings,
) -> None:
    stream = Stream(settings)
    await stream.seal(0)  # the node's WAL directory, empty
    await stream.close()
    shipper = Shipper(settings, stream)
    started = time.monotonic()
    await asyncio.wait_for(shipper.run(limits(first_wait_s=0.6, interval_s=0.1)), timeout=5)
    assert 0.6 <= time.monotonic() - started < 2.0
    started = time.monotonic()
    await asyncio.wait_for(
        shipper.run(limits(first_wait_s=10, max_s=0.4, interval_s=0.1)), timeout=5
    )
    assert 0.4 <= time.monotonic() - started < 2.0
    assert shipper.committed == []


async def test_a_cancelled_run_stops_at_once_and_ships_nothing_sealed_after(
    settings: Settings,
) -> None:
    stream = Stream(settings)
    try:
        await stream.seal()
        shipper = Shipper(settings, stream)
        run = asyncio.ensure_future(shipper.run(limits()))
        await until(lambda: shipper.last_seqs == [3])
        # Waiting for the next seal (its poll is 5 s away): the cancellation ends the wait.
        cancelled_at = time.monotonic()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert time.monotonic() - cancelled_at < 0.5
        await stream.seal()
        await asyncio.sleep(0.5)
    finally:
        await stream.close()
    assert shipper.last_seqs == [3]
    await assert_chained(settings, shipper)


async def test_a_missing_next_segment_is_refused_naming_the_seqs(settings: Settings) -> None:
    stream = Stream(settings)
    try:
        await stream.seal(3)
    finally:
        await stream.close()
    shipper = Shipper(settings, stream)
    await asyncio.wait_for(shipper.run(limits(max_segments=1)), timeout=10)
    (stream.directory / segment_file_name(4, sealed=True)).unlink()
    first, _ = shipper.committed[0]
    with pytest.raises(SegmentNotFoundError, match="expected 4"):
        await asyncio.wait_for(shipper.run(limits(), 3, first.manifest_sha256), timeout=10)
    assert shipper.last_seqs == [3]
