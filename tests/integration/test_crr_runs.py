"""A ship run and a replay run end to end, without Temporal, against the real stores (moto,
fake-gcs) and PostgreSQL: manifests are committed in seq order and chained with every upload
running at once, and a replay run applies segments in order and stops at a tampered one - the
segments before it applied with their watermark, nothing of it or after it."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.envelope import parse_signed_event
from ledger.manifest import parse_manifest
from ledger.record import WalRecord, encode_record
from storage.crr.errors import VerificationError
from storage.crr.region_keys import manifest_public_key, signing_key
from storage.crr.replay import list_manifests_after
from storage.crr.replay_run import AppliedSegment, ReplaySource, replay_run
from storage.crr.ship_run import CommittedSegment, ShipContext, ship_run
from storage.crr.verify_events import EventVerifier
from storage.dedup.store import DedupStore
from storage.keys import KeyCache, KeyRegistry
from storage.objectstore import ObjectStore, open_object_store
from storage.wal import WalWriter, stream_directory
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from tests.support.wal import SEGMENT_LIMITS

ACME = tenant("acme")
STREAM = "us/n1"
SEGMENTS, PER_SEGMENT = 6, 5


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crrruns")
    await register(settings, ACME)
    return settings


async def _write_wal(settings: Settings) -> Path:
    """SEGMENTS sealed segments of PER_SEGMENT signed events each, as node us/n1 writes them."""
    directory = stream_directory(Path(settings.region("us").wal_dir), STREAM)
    hlc0 = time.time_ns() // 1_000_000 << 16
    async with await WalWriter.open(directory, STREAM, **SEGMENT_LIMITS) as writer:
        for segment in range(SEGMENTS):
            records = []
            for index in range(PER_SEGMENT):
                seq = segment * PER_SEGMENT + index + 1
                event = parse_signed_event(ACME.event(f"evt-{seq}", {"seq": seq}))
                records.append(encode_record(WalRecord(hlc0 + seq, "us", "n1", hlc0 >> 16, event)))
            await writer.append(records)
            await writer.seal()
    return directory


def _stores(settings: Settings) -> dict[str, ObjectStore]:
    return {name: open_object_store(settings.region(name).object_store) for name in ("us", "eu")}


async def _ship_everything(settings: Settings, wal: Path) -> list[CommittedSegment]:
    committed: list[CommittedSegment] = []

    async def note(segment: CommittedSegment) -> None:
        committed.append(segment)

    context = ShipContext(
        wal,
        STREAM,
        _stores(settings),
        signing_key("us", settings.region("us")),
        settings.crr.zstd_level,
    )
    first_seqs = [segment * PER_SEGMENT + 1 for segment in range(SEGMENTS)]
    await ship_run(first_seqs, context, "", concurrency=SEGMENTS, on_committed=note)
    return committed


async def test_manifests_commit_in_order_and_chain_in_every_target(settings: Settings) -> None:
    committed = await _ship_everything(settings, await _write_wal(settings))
    assert [c.shipped.first_seq for c in committed] == [
        s * PER_SEGMENT + 1 for s in range(SEGMENTS)
    ]
    for store in _stores(settings).values():
        refs = (await list_manifests_after(store, STREAM, 0, 100)).ready
        manifests = [await store.get(ref.key) for ref in refs]
        assert [hashlib.sha256(m).hexdigest() for m in manifests] == [
            c.manifest_sha256 for c in committed
        ]
        previous = ""
        for data in manifests:
            manifest = parse_manifest(data)
            assert manifest.prev_manifest_sha256 == previous
            previous = hashlib.sha256(data).hexdigest()


async def test_a_replay_run_applies_in_order_and_stops_at_a_tampered_segment(
    settings: Settings,
) -> None:
    committed = await _ship_everything(settings, await _write_wal(settings))
    eu_store = _stores(settings)["eu"]
    tampered = committed[3].shipped  # seqs 16-20
    original = await eu_store.get(tampered.key)
    await eu_store.put(tampered.key, original[:-1] + bytes([original[-1] ^ 1]))

    refs = (await list_manifests_after(eu_store, STREAM, 0, 100)).ready
    applied: list[AppliedSegment] = []

    async def note(segment: AppliedSegment) -> None:
        applied.append(segment)

    registry = await KeyRegistry.open(settings, regions=["eu"])
    verifier = EventVerifier(KeyCache(registry), "eu")
    source = ReplaySource(
        STREAM, eu_store, manifest_public_key("us", settings.region("us")), verifier
    )
    try:
        async with await DedupStore.open(settings.region("eu")) as eu:
            with pytest.raises(VerificationError, match="SHA-256 differs"):
                await replay_run(refs, source, eu, None, note)
            assert [a.last_seq for a in applied] == [5, 10, 15]
            assert [a.accepted for a in applied] == [PER_SEGMENT] * 3
            assert await eu.applied_position(STREAM) == 15
            assert await eu.get_event("acme", "evt-15") is not None
            for seq in (16, 21, 30):
                assert await eu.get_event("acme", f"evt-{seq}") is None

            # Restored, the rest applies. The first three go again (as after a crash before the
            # workflow recorded them): the same records are their own winners, nothing changes.
            await eu_store.put(tampered.key, original)
            applied.clear()
            await replay_run(refs, source, eu, None, note)
            assert await eu.applied_position(STREAM) == SEGMENTS * PER_SEGMENT
            assert [a.last_seq for a in applied] == [(s + 1) * PER_SEGMENT for s in range(SEGMENTS)]
            assert all((a.duplicates, a.conflicts) == (0, 0) for a in applied)
            for seq in range(1, SEGMENTS * PER_SEGMENT + 1):
                stored = await eu.get_event("acme", f"evt-{seq}")
                assert stored is not None and stored.origin.seq == seq
    finally:
        verifier.close()
        await registry.close()
