"""Committing manifests survives partial commits, against the real S3 (moto) and GCS (fake-gcs)
stores: a retried commit writes the same bytes, and a shipper that starts afresh completes the
commit its predecessor left in one target only. Without both, first-write-wins would turn a
target that was down for a moment into a ShipConflictError that stops the stream."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from temporalio.testing import ActivityEnvironment

from activities.crr_models import CommitManifestInput, StreamRef
from activities.ship import ShipActivities
from ledger.config import Settings
from ledger.manifest import manifest_sha256
from ledger.shipped import ShippedSegment
from storage.crr.errors import ShipConflictError
from storage.crr.naming import manifest_key, segment_key
from storage.crr.region_keys import manifest_public_key, signing_key
from storage.crr.ship import commit_manifest
from storage.crr.watermark import read_ship_watermark
from storage.objectstore import ObjectStore, open_object_store
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings

STREAM = "us/n1"
SCHEDULED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    return await isolated_settings(running_stack, tmp_path, "shipcommit")


def _stores(settings: Settings) -> dict[str, ObjectStore]:
    return {name: open_object_store(settings.region(name).object_store) for name in ("us", "eu")}


def _public_key(settings: Settings) -> Ed25519PublicKey:
    return manifest_public_key("us", settings.region("us"))


def _segment(first_seq: int, last_seq: int) -> ShippedSegment:
    digest = hashlib.sha256(f"segment {first_seq}".encode()).hexdigest()
    return ShippedSegment(
        stream=STREAM,
        first_seq=first_seq,
        last_seq=last_seq,
        records=last_seq - first_seq + 1,
        key=segment_key(STREAM, first_seq, last_seq),
        raw_bytes=1000,
        raw_sha256=digest,
        compressed_bytes=400,
        sha256=digest,
        sealed_at_ms=1_764_000_000_000,
    )


async def _commit_to(
    settings: Settings, only: dict[str, ObjectStore], segment: ShippedSegment, prev: str
) -> str:
    key = signing_key("us", settings.region("us"))
    shipped_at_ms = int(SCHEDULED.timestamp() * 1000)
    return manifest_sha256(await commit_manifest(segment, prev, shipped_at_ms, key, only))


async def test_a_retried_commit_writes_the_same_bytes(settings: Settings) -> None:
    stores = _stores(settings)
    segment = _segment(1, 10)
    # Attempt 1 wrote us, then eu failed: us holds the manifest, eu does not.
    await _commit_to(settings, {"us": stores["us"]}, segment, "")
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(
        environment.info,
        scheduled_time=SCHEDULED,
        attempt=2,
        current_attempt_scheduled_time=SCHEDULED + timedelta(seconds=3),
    )
    shipper = ShipActivities(settings, "us", "n1")
    request = CommitManifestInput(
        source=StreamRef(region="us", node="n1"), segment=segment, prev_manifest_sha256=""
    )
    sha = await environment.run(shipper.commit_manifest, request)
    key = manifest_key(STREAM, 1, 10)
    written = {name: await store.get(key) for name, store in stores.items()}
    assert written["us"] == written["eu"]
    assert hashlib.sha256(written["eu"]).hexdigest() == sha


async def test_a_fresh_shipper_completes_a_commit_left_in_one_target(settings: Settings) -> None:
    stores = _stores(settings)
    first = await _commit_to(settings, stores, _segment(1, 10), "")
    second = await _commit_to(settings, {"us": stores["us"]}, _segment(11, 20), first)
    assert await read_ship_watermark(stores, STREAM, _public_key(settings)) == (20, second)
    key = manifest_key(STREAM, 11, 20)
    assert await stores["eu"].get(key) == await stores["us"].get(key)
    # Nothing left to complete: a second read changes nothing and says the same.
    assert await read_ship_watermark(stores, STREAM, _public_key(settings)) == (20, second)


async def test_targets_that_disagree_on_a_manifest_stop_with_a_conflict(
    settings: Settings,
) -> None:
    stores = _stores(settings)
    first = await _commit_to(settings, stores, _segment(1, 10), "")
    await _commit_to(settings, {"us": stores["us"]}, _segment(11, 20), first)
    await _commit_to(settings, {"eu": stores["eu"]}, _segment(11, 20), "f" * 64)
    with pytest.raises(ShipConflictError, match="already holds different bytes"):
        await read_ship_watermark(stores, STREAM, _public_key(settings))


async def test_an_unshipped_stream_starts_at_zero(settings: Settings) -> None:
    assert await read_ship_watermark(_stores(settings), STREAM, _public_key(settings)) == (0, "")
