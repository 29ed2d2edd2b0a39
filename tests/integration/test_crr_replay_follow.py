"""A replay run that follows its stream (storage.crr.replay_run.replay_following), on the real
stores and the eu dedup store: it applies what was committed before it started and what is
committed while it runs, stops once the stream is quiet, and stops at a gap, applying nothing
beyond it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ledger.config import Settings
from storage.crr.naming import manifest_key
from storage.crr.region_keys import manifest_public_key
from storage.crr.replay import ManifestListing
from storage.crr.replay_run import AppliedSegment, ReplaySource, replay_following
from storage.crr.verify_events import EventVerifier
from storage.dedup.store import DedupStore
from storage.keys import KeyCache, KeyRegistry
from tests.conftest import RunningStack
from tests.integration.test_crr_ship_follow import STREAM, Shipper, Stream, limits, stores
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant

ACME = tenant("acme")


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crrreplayfollow")
    await register(settings, ACME)
    return settings


@pytest.fixture
async def source(settings: Settings) -> AsyncIterator[ReplaySource]:
    registry = await KeyRegistry.open(settings, regions=["eu"])
    verifier = EventVerifier(KeyCache(registry), "eu")
    try:
        yield ReplaySource(
            STREAM,
            stores(settings)["eu"],
            manifest_public_key("us", settings.region("us")),
            verifier,
        )
    finally:
        verifier.close()
        await registry.close()


class Replayer:
    """replay_following into eu, noting what it applied and every listing."""

    def __init__(self, source: ReplaySource, dedup: DedupStore) -> None:
        self.source, self.dedup = source, dedup
        self.applied: list[AppliedSegment] = []
        self.listings: list[ManifestListing] = []

    async def run(self, **changes: float) -> None:
        async def applied(segment: AppliedSegment) -> None:
            self.applied.append(segment)

        async def listed(listing: ManifestListing) -> None:
            self.listings.append(listing)

        follow = limits(**{"interval_s": 0.1, **changes})
        await replay_following(self.source, self.dedup, 0, None, follow, applied, listed)


class ShippedStream:
    """Node us/n1's WAL and its shipper: `ship` seals more segments and ships them."""

    def __init__(self, settings: Settings) -> None:
        self.wal = Stream(settings)
        self._shipper = Shipper(settings, self.wal)

    async def ship(self, segments: int) -> None:
        await self.wal.seal(segments)
        after, prev = 0, ""
        if self._shipper.committed:
            last, _ = self._shipper.committed[-1]
            after, prev = last.shipped.last_seq, last.manifest_sha256
        await self._shipper.run(limits(first_wait_s=0, idle_s=0), after, prev)


async def test_a_run_applies_what_is_committed_while_it_follows(
    settings: Settings, source: ReplaySource
) -> None:
    stream = ShippedStream(settings)
    async with await DedupStore.open(settings.region("eu")) as eu:
        try:
            await stream.ship(2)
            replayer = Replayer(source, eu)
            run = asyncio.ensure_future(replayer.run(idle_s=3.0))
            await asyncio.sleep(1.0)
            assert [a.last_seq for a in replayer.applied] == [3, 6]
            await stream.ship(1)
            shipped_at = time.monotonic()
            await asyncio.wait_for(run, timeout=10)
        finally:
            await stream.wal.close()
        assert [a.last_seq for a in replayer.applied] == [3, 6, 9]
        # It returned once quiet for idle_s, not after its first_wait_s or max_s.
        assert time.monotonic() - shipped_at < 3.0 + 2.0
        assert await eu.applied_position(STREAM) == 9
        assert all(listing.gap_first_seq is None for listing in replayer.listings)


async def test_a_run_stops_at_a_gap_and_applies_nothing_beyond_it(
    settings: Settings, source: ReplaySource
) -> None:
    stream = ShippedStream(settings)
    try:
        await stream.ship(3)
    finally:
        await stream.wal.close()
    await source.store.delete(manifest_key(STREAM, 4, 6))
    async with await DedupStore.open(settings.region("eu")) as eu:
        replayer = Replayer(source, eu)
        await asyncio.wait_for(replayer.run(idle_s=0.5), timeout=10)
        assert [a.last_seq for a in replayer.applied] == [3]
        assert replayer.listings[-1].ready == []
        assert replayer.listings[-1].gap_first_seq == 7
        assert await eu.applied_position(STREAM) == 3
