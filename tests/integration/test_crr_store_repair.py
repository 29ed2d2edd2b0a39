"""A ship target that lost objects is repaired from its peer, against the real S3 (moto) and GCS
(fake-gcs) stores: a range deleted from either store, a manifest without its segment, segments
without their manifests, the whole history. Only verified bytes are copied: a tampered peer is
refused, and different bytes at one key are a conflict, never overwritten. Afterwards the chain
verifies end to end the way a replayer reads it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ledger.config import Settings
from storage.crr.replay import list_manifests_after, load_verified_segment
from storage.crr.store_repair import repair_stream
from storage.crr.watermark import read_ship_watermark
from storage.objectstore import ObjectStore
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.shipped_stream import (
    LAST_SEQ,
    SEGMENTS,
    STREAM,
    keys_of,
    public_key,
    ship_stream,
    stores_of,
)


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    return await isolated_settings(running_stack, tmp_path, "storerepair")


async def _chain_verifies(settings: Settings, store: ObjectStore) -> str:
    """Read the stream back as a replayer does: every manifest in order, chained, every segment
    verified (I5). Returns the last manifest's hash."""
    listing = await list_manifests_after(store, STREAM, 0, 1000)
    assert listing.gap_first_seq is None
    assert listing.ready[-1].last_seq == LAST_SEQ
    previous = ""
    for ref in listing.ready:
        verified = await load_verified_segment(store, ref, STREAM, public_key(settings), previous)
        previous = verified.manifest_sha256
    return previous


async def _same_objects(stores: dict[str, ObjectStore]) -> None:
    listed = {
        name: [i.key async for i in store.list(prefix="wal/")] for name, store in stores.items()
    }
    assert listed["us"] == listed["eu"]
    for key in listed["us"]:
        assert await stores["us"].get(key) == await stores["eu"].get(key), key


@pytest.mark.parametrize("damaged", ["us", "eu"])
async def test_objects_deleted_from_one_store_are_repaired_from_the_other(
    settings: Settings, damaged: str
) -> None:
    committed = await ship_stream(settings)
    stores = stores_of(settings)
    store = stores[damaged]
    for segment in (1, 2, 3):  # a range in the middle, manifests and segments
        for key in keys_of(segment):
            await store.delete(key)
    await store.delete(keys_of(4)[1])  # a manifest without its segment
    await store.delete(keys_of(0)[0])  # a segment without its manifest
    await store.delete(keys_of(5)[0])  # the newest manifest

    dry = await repair_stream(stores, STREAM, public_key(settings), dry_run=True)
    assert dry.missing == {"us": 0, "eu": 0} | {damaged: 9}
    assert sum(dry.repaired.values()) == 0 and not dry.ok
    assert (await list_manifests_after(store, STREAM, 0, 100)).gap_first_seq == 13

    report = await repair_stream(stores, STREAM, public_key(settings))
    assert report.repaired[damaged] == 9 and report.ok, report
    assert report.through_seq == LAST_SEQ
    assert report.through_sha256 == committed[-1].manifest_sha256
    for name in stores:
        assert await _chain_verifies(settings, stores[name]) == committed[-1].manifest_sha256
    await _same_objects(stores)
    # Complete now: a second pass finds nothing.
    again = await repair_stream(stores, STREAM, public_key(settings))
    assert sum(again.missing.values()) == 0 and again.ok


async def test_a_store_that_lost_the_whole_history_is_repaired_by_the_watermark_read(
    settings: Settings,
) -> None:
    committed = await ship_stream(settings)
    stores = stores_of(settings)
    async for info in stores["us"].list(prefix="wal/"):
        await stores["us"].delete(info.key)
    watermark = await read_ship_watermark(stores, STREAM, public_key(settings))
    assert watermark == (LAST_SEQ, committed[-1].manifest_sha256)
    assert await _chain_verifies(settings, stores["us"]) == committed[-1].manifest_sha256
    await _same_objects(stores)


async def test_windows_cover_the_history_in_bounded_steps(settings: Settings) -> None:
    committed = await ship_stream(settings)
    stores = stores_of(settings)
    for segment in range(SEGMENTS):
        await stores["eu"].delete(keys_of(segment)[0])
    after_seq, after_sha256, windows = 0, "", 0
    while True:
        report = await repair_stream(
            stores, STREAM, public_key(settings), after_seq, after_sha256, max_manifests=2
        )
        windows += 1
        assert report.ok, report
        after_seq, after_sha256 = report.through_seq, report.through_sha256 or ""
        if report.complete:
            break
    assert windows in (3, 4)  # 6 manifests, 2 a window (a full last window cannot know)
    assert await _chain_verifies(settings, stores["eu"]) == committed[-1].manifest_sha256


async def test_a_tampered_segment_in_the_peer_is_refused_not_copied(settings: Settings) -> None:
    await ship_stream(settings)
    stores = stores_of(settings)
    _, segment = keys_of(2)
    await stores["us"].delete(segment)
    original = await stores["eu"].get(segment)
    await stores["eu"].put(segment, original[:-1] + bytes([original[-1] ^ 1]))

    report = await repair_stream(stores, STREAM, public_key(settings))
    assert not report.ok
    assert report.missing["us"] == 1 and report.repaired["us"] == 0
    assert [(p.key, p.target) for p in report.refused] == [(segment, "us")]
    assert "SHA-256 differs" in report.refused[0].reason
    assert not await stores["us"].exists(segment)


async def test_a_manifest_that_does_not_verify_is_refused(settings: Settings) -> None:
    await ship_stream(settings)
    stores = stores_of(settings)
    manifest, _ = keys_of(3)
    await stores["us"].delete(manifest)
    data = await stores["eu"].get(manifest)
    # Same length, one digit of the record count changed: still canonical JSON, bad signature.
    forged = data.replace(b'"records":3', b'"records":4')
    assert forged != data
    await stores["eu"].put(manifest, forged)

    report = await repair_stream(stores, STREAM, public_key(settings))
    assert [(p.key, p.target) for p in report.refused] == [(manifest, "us")]
    assert not await stores["us"].exists(manifest)


async def test_different_bytes_at_one_key_are_a_conflict_never_overwritten(
    settings: Settings,
) -> None:
    await ship_stream(settings)
    stores = stores_of(settings)
    _, segment = keys_of(1)
    await stores["eu"].put(segment, b"other bytes of another size")
    report = await repair_stream(stores, STREAM, public_key(settings))
    assert [p.key for p in report.conflicts] == [segment] and not report.ok
    assert await stores["eu"].get(segment) == b"other bytes of another size"
    digest = hashlib.sha256(await stores["us"].get(segment)).hexdigest()
    assert digest != hashlib.sha256(b"other bytes of another size").hexdigest()
