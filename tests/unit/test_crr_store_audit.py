"""The comparison of ship targets (storage/crr/store_audit.py) on local-filesystem stores: which
keys a target lacks, seq ranges no target holds, size conflicts, and bounded windows that compare
every target over the same seqs. Only keys and sizes matter here; the verified copies are tested
on the real S3 and GCS stores (tests/integration/test_crr_store_repair.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.crr.naming import manifest_key, segment_key
from storage.crr.store_audit import audit_stream
from storage.objectstore import ObjectStore
from storage.objectstore.local import LocalObjectStore

STREAM = "us/n1"


def _targets(tmp_path: Path) -> dict[str, ObjectStore]:
    stores: dict[str, ObjectStore] = {}
    for name in ("us", "eu"):
        (tmp_path / name).mkdir()
        stores[name] = LocalObjectStore(tmp_path / name)
    return stores


async def _ship(store: ObjectStore, first: int, last: int, segment: bool = True) -> None:
    await store.put(manifest_key(STREAM, first, last), b"m" * first)
    if segment:
        await store.put(segment_key(STREAM, first, last), b"s" * first)


RANGES = [(1, 3), (4, 6), (7, 9), (10, 12)]


async def test_lists_what_each_target_lacks_segments_before_manifests(tmp_path: Path) -> None:
    targets = _targets(tmp_path)
    for first, last in RANGES:
        await _ship(targets["eu"], first, last)
        if first != 4:
            await _ship(targets["us"], first, last, segment=first != 10)
    audit = await audit_stream(targets, STREAM)
    assert audit.complete and audit.through_seq == 12
    assert audit.missing("us") == [
        segment_key(STREAM, 4, 6),
        manifest_key(STREAM, 4, 6),
        segment_key(STREAM, 10, 12),
    ]
    assert audit.missing("eu") == []
    assert audit.lost == [] and audit.conflicts == [] and audit.segments_nobody_holds() == []


async def test_seqs_no_target_holds_are_lost_and_different_sizes_conflict(tmp_path: Path) -> None:
    targets = _targets(tmp_path)
    for store in targets.values():
        for first, last in RANGES:
            if first != 7:
                await _ship(store, first, last, segment=first != 10)
    await targets["eu"].put(segment_key(STREAM, 4, 6), b"longer bytes than us holds")
    audit = await audit_stream(targets, STREAM)
    assert audit.lost == [(7, 9)]
    assert audit.segments_nobody_holds() == [segment_key(STREAM, 10, 12)]
    assert [c.key for c in audit.conflicts] == [segment_key(STREAM, 4, 6)]
    assert audit.missing("us") == audit.missing("eu") == []


async def test_a_window_ends_where_the_shortest_full_listing_ends(tmp_path: Path) -> None:
    targets = _targets(tmp_path)
    for first, last in RANGES:
        await _ship(targets["eu"], first, last)
        if first in (1, 10):
            await _ship(targets["us"], first, last)
    first_window = await audit_stream(targets, STREAM, max_manifests=2)
    # eu lists 1-3 and 4-6 (full); us lists 1-3 and 10-12, but 10-12 lies beyond eu's window.
    assert not first_window.complete and first_window.through_seq == 6
    assert first_window.missing("us") == [segment_key(STREAM, 4, 6), manifest_key(STREAM, 4, 6)]
    second = await audit_stream(targets, STREAM, after_seq=6, max_manifests=2)
    assert second.through_seq == 12
    assert second.missing("us") == [segment_key(STREAM, 7, 9), manifest_key(STREAM, 7, 9)]
    last = await audit_stream(targets, STREAM, after_seq=12, max_manifests=2)
    assert last.complete and last.through_seq == 12 and last.manifests == []


async def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one ship target"):
        await audit_stream({}, STREAM)
    with pytest.raises(ValueError, match="max_manifests >= 1"):
        await audit_stream(_targets(tmp_path), STREAM, max_manifests=0)
