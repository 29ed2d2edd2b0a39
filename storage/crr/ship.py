"""Shipping one sealed segment: compress, upload to every target, then commit its manifest.

Uploads use put-if-absent so a retried or restarted shipper never overwrites: an identical object
already there counts as success, different bytes are a `ShipConflictError` (first write wins).
The manifest is written last, so a segment without a manifest was never shipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.manifest import Manifest, ManifestFields, manifest_bytes, sign_manifest
from ledger.shipped import ShippedSegment
from ledger.stream_id import StreamId
from storage.crr.codec import CODEC, compress_file
from storage.crr.errors import SegmentNotFoundError, ShipConflictError
from storage.crr.naming import manifest_key, segment_key
from storage.objectstore import ObjectStore
from storage.wal import sealed_segments_after


async def ship_segment(
    wal_directory: Path,
    stream: str,
    first_seq: int,
    targets: Mapping[str, ObjectStore],
    level: int,
) -> ShippedSegment:
    """Compress the sealed segment starting at `first_seq` (zstd at `level`, the crr.zstd_level
    setting) and upload it to every target."""
    # Only the segments from `first_seq` on: the directory holds the whole retention (an hour).
    listed = sealed_segments_after(wal_directory, first_seq - 1)
    segment = next((s for s in listed if s.first_seq == first_seq), None)
    if segment is None or segment.last_seq is None:
        raise SegmentNotFoundError(f"{wal_directory}: no sealed segment starts at seq {first_seq}")
    key = segment_key(stream, segment.first_seq, segment.last_seq)
    with tempfile.TemporaryDirectory(prefix="geoledger-ship-") as scratch:
        packed = await asyncio.to_thread(
            compress_file, segment.path, Path(scratch) / "segment.zst", level
        )
        await asyncio.gather(
            *(_upload_once(store, key, packed.path, packed.sha256) for store in targets.values())
        )
    return ShippedSegment(
        stream=stream,
        first_seq=segment.first_seq,
        last_seq=segment.last_seq,
        records=segment.last_seq - segment.first_seq + 1,
        key=key,
        raw_bytes=packed.raw_bytes,
        raw_sha256=packed.raw_sha256,
        compressed_bytes=packed.compressed_bytes,
        sha256=packed.sha256,
        sealed_at_ms=int(segment.path.stat().st_mtime * 1000),
    )


async def commit_manifest(
    shipped: ShippedSegment,
    prev_manifest_sha256: str,
    shipped_at_ms: int,
    signing_key: Ed25519PrivateKey,
    targets: Mapping[str, ObjectStore],
) -> Manifest:
    """Sign the manifest of an uploaded segment and write it to every target."""
    stream = StreamId.parse(shipped.stream)
    manifest = sign_manifest(
        signing_key,
        ManifestFields(
            region=stream.region,
            node=stream.node,
            segment=shipped.key,
            first_seq=shipped.first_seq,
            last_seq=shipped.last_seq,
            records=shipped.records,
            raw_bytes=shipped.raw_bytes,
            raw_sha256=shipped.raw_sha256,
            compressed_bytes=shipped.compressed_bytes,
            sha256=shipped.sha256,
            codec=CODEC,
            sealed_at_ms=shipped.sealed_at_ms,
            shipped_at_ms=shipped_at_ms,
            prev_manifest_sha256=prev_manifest_sha256,
        ),
    )
    data = manifest_bytes(manifest)
    key = manifest_key(shipped.stream, shipped.first_seq, shipped.last_seq)
    await asyncio.gather(*(put_bytes_once(store, key, data) for store in targets.values()))
    return manifest


async def _upload_once(store: ObjectStore, key: str, path: Path, sha256: str) -> None:
    # A sealed segment is at most 16 MiB before compression, so one copy in memory is bounded.
    data = await asyncio.to_thread(path.read_bytes)
    if await store.put_if_absent(key, data):
        return
    await _same_or_conflict(store, key, sha256)


async def put_bytes_once(store: ObjectStore, key: str, data: bytes) -> None:
    """Store `data` as `key` unless it exists; raise ShipConflictError when it holds other bytes."""
    if await store.put_if_absent(key, data):
        return
    await _same_or_conflict(store, key, hashlib.sha256(data).hexdigest())


async def _same_or_conflict(store: ObjectStore, key: str, sha256: str) -> None:
    """An object was already there: fine when it is ours byte for byte (a retried upload)."""
    theirs = hashlib.sha256(await store.get(key)).hexdigest()
    if theirs != sha256:
        raise ShipConflictError(store.describe(), key, sha256, theirs)
