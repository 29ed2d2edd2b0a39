"""The shipper's listing learns of a sealed segment at once through a watch on the WAL directory
(real inotify, the real writer), and still finds it by polling where no watch can run."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.crr_models import ListSegmentsInput, ListSegmentsResult, LongPoll, StreamRef
from activities.ship import ShipActivities
from ledger.config import Settings, load_settings
from storage.wal import WalWriter, stream_directory
from storage.wal.watch import SealWatch
from tests.support.wal import SEGMENT_BYTES

REPO_ROOT = Path(__file__).resolve().parents[2]
STREAM = "us/n1"
# Far longer than a watch needs and far shorter than the poll interval below, so a listing that
# returns within it was woken by the watch, not by a poll.
WOKEN_WITHIN_S = 0.5
SLOW_POLL = LongPoll(wait_s=20.0, interval_s=3.0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(REPO_ROOT / "geoledger.toml")
    us = settings.region("us").model_copy(update={"wal_dir": tmp_path / "wal"})
    return settings.model_copy(update={"regions": {**settings.regions, "us": us}})


async def _open_writer(settings: Settings) -> WalWriter:
    directory = stream_directory(settings.region("us").wal_dir, STREAM)
    # An age far beyond the test: segments are sealed only when the test says so.
    return await WalWriter.open(
        directory, STREAM, max_segment_bytes=SEGMENT_BYTES, max_segment_age_s=3600
    )


async def _list(settings: Settings, poll: LongPoll, after_seq: int = 0) -> ListSegmentsResult:
    shipper = ShipActivities(settings, "us", "n1")
    request = ListSegmentsInput(
        source=StreamRef(region="us", node="n1"), after_seq=after_seq, poll=poll
    )
    return await ActivityEnvironment().run(shipper.list_sealed_segments, request)


async def _seal_later(writer: WalWriter, delay_s: float) -> float:
    await asyncio.sleep(delay_s)
    await writer.seal()
    return time.monotonic()


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[WalWriter, SealWatch]]:
    """A writer of one stream and a watch on its directory."""
    directory = tmp_path / "wal" / "us" / "n1"
    async with await WalWriter.open(
        directory, STREAM, max_segment_bytes=SEGMENT_BYTES, max_segment_age_s=3600
    ) as writer:
        watch = SealWatch.start(directory)
        assert watch is not None
        with contextlib.closing(watch):
            yield writer, watch


async def test_a_watch_wakes_on_a_seal_and_not_on_appends(
    watched: tuple[WalWriter, SealWatch],
) -> None:
    writer, watch = watched
    await writer.append([b"one", b"two"])  # creates and fills `.open`: no seal
    assert await watch.wait(0.2) is False
    await writer.seal()
    started = time.monotonic()
    assert await watch.wait(5.0) is True
    assert time.monotonic() - started < WOKEN_WITHIN_S
    # The seal was reported once; nothing more happened since.
    assert await watch.wait(0.1) is False


async def test_a_seal_between_two_waits_is_not_lost(watched: tuple[WalWriter, SealWatch]) -> None:
    writer, watch = watched
    await writer.append([b"one"])
    await writer.seal()
    await asyncio.sleep(0.05)  # the event arrives while nobody waits
    assert await watch.wait(0.0) is True


async def test_no_watch_on_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    assert SealWatch.start(tmp_path / "missing") is None


async def test_the_listing_returns_as_soon_as_a_segment_is_sealed(settings: Settings) -> None:
    async with await _open_writer(settings) as writer:
        await writer.append([b"a", b"b", b"c"])
        sealing = asyncio.create_task(_seal_later(writer, 0.3))
        result = await _list(settings, SLOW_POLL)
        listed_at = time.monotonic()
        sealed_at = await sealing
    assert [(s.first_seq, s.last_seq) for s in result.segments] == [(1, 3)]
    assert listed_at - sealed_at < WOKEN_WITHIN_S


async def test_without_inotify_the_listing_polls(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a platform without inotify: the module cannot be imported.
    monkeypatch.setitem(sys.modules, "inotify_simple", None)
    async with await _open_writer(settings) as writer:
        assert SealWatch.start(writer.directory) is None
        await writer.append([b"a", b"b"])
        sealing = asyncio.create_task(_seal_later(writer, 0.2))
        result = await _list(settings, LongPoll(wait_s=20.0, interval_s=0.05))
        await sealing
    assert [(s.first_seq, s.last_seq) for s in result.segments] == [(1, 2)]


async def test_the_listing_keeps_heartbeating_while_it_waits(settings: Settings) -> None:
    async with await _open_writer(settings) as writer:
        await writer.append([b"a"])
        shipper = ShipActivities(settings, "us", "n1")
        environment = ActivityEnvironment()
        beats: list[float] = []
        environment.on_heartbeat = lambda *_: beats.append(time.monotonic())
        request = ListSegmentsInput(
            source=StreamRef(region="us", node="n1"),
            after_seq=0,
            poll=LongPoll(wait_s=0.6, interval_s=0.1),
        )
        result = await environment.run(shipper.list_sealed_segments, request)
    # Nothing sealed: the wait ran out, heartbeating at every poll interval on the way.
    assert result.segments == []
    assert len(beats) >= 4
