"""A small stream shipped to both regions' real stores: node us/n1 writes SEGMENTS sealed segments
of PER_SEGMENT signed events, and a ship run uploads them and commits their manifests."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.config import Settings
from ledger.envelope import parse_signed_event
from ledger.record import WalRecord, encode_record
from storage.crr.naming import manifest_key, segment_key
from storage.crr.region_keys import manifest_public_key, signing_key
from storage.crr.ship_run import CommittedSegment, ShipContext, ship_run
from storage.objectstore import ObjectStore, open_object_store
from storage.wal import WalWriter, stream_directory
from tests.support.tenants import tenant
from tests.support.wal import SEGMENT_LIMITS

ACME = tenant("acme")
STREAM = "us/n1"
SEGMENTS, PER_SEGMENT = 6, 3
LAST_SEQ = SEGMENTS * PER_SEGMENT


def stores_of(settings: Settings) -> dict[str, ObjectStore]:
    return {name: open_object_store(settings.region(name).object_store) for name in ("us", "eu")}


def public_key(settings: Settings) -> Ed25519PublicKey:
    return manifest_public_key("us", settings.region("us"))


def keys_of(segment: int) -> tuple[str, str]:
    """(manifest key, segment key) of the segment with index `segment` (0-based)."""
    first, last = segment * PER_SEGMENT + 1, (segment + 1) * PER_SEGMENT
    return manifest_key(STREAM, first, last), segment_key(STREAM, first, last)


async def ship_stream(settings: Settings) -> list[CommittedSegment]:
    """Write and ship the stream; the committed segments in order."""
    directory = stream_directory(Path(settings.region("us").wal_dir), STREAM)
    hlc0 = time.time_ns() // 1_000_000 << 16
    async with await WalWriter.open(directory, STREAM, **SEGMENT_LIMITS) as writer:
        for seq in range(1, LAST_SEQ + 1):
            event = parse_signed_event(ACME.event(f"evt-{seq}", {"seq": seq}))
            record = WalRecord(hlc0 + seq, "us", "n1", hlc0 >> 16, event)
            await writer.append([encode_record(record)])
            if seq % PER_SEGMENT == 0:
                await writer.seal()
    committed: list[CommittedSegment] = []

    async def note(segment: CommittedSegment) -> None:
        committed.append(segment)

    context = ShipContext(
        directory,
        STREAM,
        stores_of(settings),
        signing_key("us", settings.region("us")),
        settings.crr.zstd_level,
    )
    first_seqs = [s * PER_SEGMENT + 1 for s in range(SEGMENTS)]
    await ship_run(first_seqs, context, "", concurrency=SEGMENTS, on_committed=note)
    return committed
