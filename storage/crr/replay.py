"""Reading a shipped stream back for replay: manifests strictly in order, every byte verified
against its signed, hash-chained manifest before anything is applied (I5)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.errors import ManifestError
from ledger.manifest import Manifest, manifest_sha256, parse_manifest, verify_manifest
from ledger.manifest_ref import ManifestRef
from storage.crr.codec import CODEC, decompress
from storage.crr.errors import VerificationError
from storage.crr.naming import manifest_start_after, manifests_prefix, parse_manifest_key
from storage.objectstore import ObjectStore
from storage.wal import WalError
from storage.wal.segment import parse_sealed_segment


@dataclass(frozen=True)
class ManifestListing:
    """The manifests that follow a watermark, in order, and whether a gap blocks them."""

    ready: list[ManifestRef]
    gap_first_seq: int | None  # first seq of the manifest found beyond a missing one


async def list_manifests_after(
    store: ObjectStore, stream: str, after_seq: int, limit: int
) -> ManifestListing:
    """Manifests of `stream` whose seqs follow `after_seq` without a gap, at most `limit`."""
    ready: list[ManifestRef] = []
    expected = after_seq + 1
    async for info in store.list(
        prefix=manifests_prefix(stream), start_after=manifest_start_after(stream, after_seq)
    ):
        ref = parse_manifest_key(stream, info.key)
        if ref is None:
            continue
        if ref.first_seq != expected:
            return ManifestListing(ready, gap_first_seq=ref.first_seq)
        ready.append(ref)
        expected = ref.last_seq + 1
        if len(ready) >= limit:
            break
    return ManifestListing(ready, gap_first_seq=None)


@dataclass(frozen=True)
class VerifiedSegment:
    """One shipped segment after verification: its manifest, the manifest's SHA-256 and its
    (seq, record bytes) in order."""

    manifest: Manifest
    manifest_sha256: str
    records: list[tuple[int, bytes]]


async def load_verified_segment(
    store: ObjectStore,
    ref: ManifestRef,
    stream: str,
    public_key: Ed25519PublicKey,
    expected_prev_sha256: str | None,
) -> VerifiedSegment:
    """Fetch a manifest and its segment and verify them completely.

    Checks, in order: manifest canonical form and signature by the source region's key; it names
    this stream and the seqs its key says; it chains to `expected_prev_sha256` (None skips that
    check, for the first manifest after a watermark whose predecessor is unknown); the segment's
    compressed and raw SHA-256 and sizes; frame CRCs; the record count. Raises
    `VerificationError` naming what failed.
    """
    where = f"{store.describe()}/{ref.key}"
    try:
        manifest = parse_manifest(await store.get(ref.key))
    except ManifestError as exc:
        raise VerificationError(f"{where}: {exc}") from exc
    if not verify_manifest(public_key, manifest):
        raise VerificationError(f"{where}: signature does not verify under the region's key")
    if str(manifest.stream) != stream or (manifest.first_seq, manifest.last_seq) != (
        ref.first_seq,
        ref.last_seq,
    ):
        raise VerificationError(
            f"{where}: names {manifest.stream} seqs {manifest.first_seq}-{manifest.last_seq}, "
            f"expected {stream} seqs {ref.first_seq}-{ref.last_seq}"
        )
    if expected_prev_sha256 is not None and manifest.prev_manifest_sha256 != expected_prev_sha256:
        raise VerificationError(
            f"{where}: chains to {manifest.prev_manifest_sha256 or '(nothing)'}, expected "
            f"{expected_prev_sha256 or '(nothing)'}: a manifest was replaced or removed"
        )
    if manifest.codec != CODEC:
        raise VerificationError(f"{where}: unknown codec {manifest.codec!r}")
    records = _verified_records(manifest, await store.get(manifest.segment), store.describe())
    return VerifiedSegment(manifest, manifest_sha256(manifest), records)


def _verified_records(manifest: Manifest, packed: bytes, store: str) -> list[tuple[int, bytes]]:
    where = f"{store}/{manifest.segment}"
    if len(packed) != manifest.compressed_bytes:
        raise VerificationError(
            f"{where}: {len(packed)} bytes, manifest says {manifest.compressed_bytes}"
        )
    if hashlib.sha256(packed).hexdigest() != manifest.sha256:
        raise VerificationError(f"{where}: SHA-256 differs from the manifest's")
    try:
        raw = decompress(packed, max_output=manifest.raw_bytes)
    except Exception as exc:  # zstd raises its own error type for every malformed frame
        raise VerificationError(f"{where}: does not decompress: {exc}") from exc
    if len(raw) != manifest.raw_bytes or hashlib.sha256(raw).hexdigest() != manifest.raw_sha256:
        raise VerificationError(f"{where}: decompressed bytes differ from the manifest's")
    try:
        frames = parse_sealed_segment(Path(manifest.segment), raw)
    except WalError as exc:
        raise VerificationError(f"{where}: {exc}") from exc
    if len(frames) != manifest.records:
        raise VerificationError(
            f"{where}: holds {len(frames)} records, manifest says {manifest.records}"
        )
    return [(manifest.first_seq + index, frame) for index, frame in enumerate(frames)]
