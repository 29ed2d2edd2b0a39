"""`drill replay-from-scratch`: rebuild a region's dedup state from the segments shipped to its
store alone, into scratch databases, and compare it with the live state, stream by stream, up to
what both have applied. Proves that every state is derivable from WALs (I2) and that the shipped
copies are complete and verifiable (I5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ledger.config import Settings
from ledger.seq_range import SeqRange
from ledger.stream_bisection import MAX_DIFF_SEQS
from ledger.stream_id import StreamId
from storage.crr.region_keys import manifest_public_key
from storage.crr.replay import list_manifests_after, load_verified_segment
from storage.crr.verify_events import EventVerifier
from storage.dedup.store import DedupStore
from storage.geo.diff import Divergence, diff_records, fetch_records
from storage.geo.fingerprint import fingerprint_ranges
from storage.keys import KeyCache, KeyRegistry
from storage.objectstore import ObjectStore, open_object_store
from storage.tiering.horizons import higher_horizons, read_horizons
from workers.drills.scratch_databases import create_scratch_region, drop_scratch_region

MANIFESTS_PER_LISTING = 100
# How long a stream's store may take to catch up with what the live region had applied when the
# drill began (segments in flight: sealed but not yet shipped) before the shortfall counts as lost.
CATCH_UP_S = 10.0
CATCH_UP_POLL_S = 0.25


@dataclass
class StreamRebuild:
    stream: str
    rebuilt_seq: int = 0
    live_seq: int = 0
    compared_through: int = 0
    records_compared: int = 0
    differing: int = 0
    gap_at_seq: int | None = None
    # Seqs the live region had applied when the drill began that its store still lacked after
    # the catch-up wait: history the region could not be rebuilt from.
    missing_from_store: int = 0
    sample: list[str] = field(default_factory=list)


@dataclass
class RebuildReport:
    region: str
    seconds: float
    segments: int
    records: int
    streams: list[StreamRebuild]
    scratch_databases: list[str]

    @property
    def ok(self) -> bool:
        return all(
            s.differing == 0 and s.gap_at_seq is None and s.missing_from_store == 0
            for s in self.streams
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def streams_shipped_to(settings: Settings, region: str) -> list[str]:
    return [
        str(StreamId(source, node))
        for source, config in settings.regions.items()
        if region in config.ship_targets or source == region
        for node in config.stream_nodes
    ]


async def rebuild_region(
    settings: Settings,
    region: str,
    keep: bool = False,
    on_segment: Callable[[str, int], None] = lambda stream, seq: None,
    catch_up_s: float = CATCH_UP_S,
) -> RebuildReport:
    started = time.monotonic()
    live_config = settings.region(region)
    scratch_config = await create_scratch_region(live_config, f"rebuild_{int(time.time())}")
    registry = await KeyRegistry.open(settings, regions=[region])
    store = open_object_store(live_config.object_store)
    segments = records = 0
    results: list[StreamRebuild] = []
    verifier: EventVerifier | None = None
    try:
        async with (
            await DedupStore.open(scratch_config) as scratch,
            await DedupStore.open(live_config) as live,
        ):
            # Verified in worker processes, as replay does: the drill measures the real cost.
            verifier = EventVerifier(KeyCache(registry), region)
            for stream in streams_shipped_to(settings, region):
                result = StreamRebuild(stream)
                # What the store must hold by the end: everything applied live before we began.
                applied_live = await live.applied_position(stream)
                count, applied = await _replay_stream(
                    settings,
                    stream,
                    store,
                    verifier,
                    scratch,
                    result,
                    on_segment,
                    deadline=time.monotonic() + catch_up_s,
                    expected_seq=applied_live,
                )
                result.missing_from_store = max(0, applied_live - result.rebuilt_seq)
                segments, records = segments + count, records + applied
                await _compare(stream, live, scratch, result)
                results.append(result)
    finally:
        if verifier is not None:
            verifier.close()
        await registry.close()
        if not keep:
            await drop_scratch_region(scratch_config)
    return RebuildReport(
        region=region,
        seconds=round(time.monotonic() - started, 2),
        segments=segments,
        records=records,
        streams=results,
        scratch_databases=[]
        if not keep
        else [scratch_config.control_dsn, *scratch_config.shard_dsns],
    )


async def _replay_stream(
    settings: Settings,
    stream: str,
    store: ObjectStore,
    verifier: EventVerifier,
    scratch: DedupStore,
    result: StreamRebuild,
    on_segment: Callable[[str, int], None],
    deadline: float,
    expected_seq: int,
) -> tuple[int, int]:
    """Apply every manifest of `stream` in order, each verified; return (segments, records).

    Waits until `deadline` (monotonic) for manifests through `expected_seq` (segments still being
    shipped), unless a gap blocks the way."""
    source = StreamId.parse(stream).region
    public_key = manifest_public_key(source, settings.region(source))
    segments = records = 0
    previous: str | None = None
    while True:
        listing = await list_manifests_after(
            store, stream, result.rebuilt_seq, MANIFESTS_PER_LISTING
        )
        for ref in listing.ready:
            segment = await load_verified_segment(store, ref, stream, public_key, previous)
            batch = await verifier.dedup_records(segment.records, stream)
            await scratch.apply(batch, stream=stream, through_seq=ref.last_seq)
            previous, result.rebuilt_seq = segment.manifest_sha256, ref.last_seq
            segments, records = segments + 1, records + len(batch)
            on_segment(stream, ref.last_seq)
        if listing.gap_first_seq is not None and not listing.ready:
            result.gap_at_seq = result.rebuilt_seq + 1
            return segments, records
        if listing.ready:
            continue
        if result.rebuilt_seq >= expected_seq or time.monotonic() >= deadline:
            return segments, records
        await asyncio.sleep(CATCH_UP_POLL_S)


async def _compare(
    stream: str, live: DedupStore, scratch: DedupStore, result: StreamRebuild
) -> None:
    """Fingerprint 1..upto on both sides; on a mismatch, diff record by record."""
    result.live_seq = await live.applied_position(stream)
    upto = min(result.live_seq, result.rebuilt_seq)
    result.compared_through = upto
    if upto == 0:
        return
    whole = [SeqRange(lo=1, hi=upto)]
    live_shards = [live.pools.shards[i] for i in live.route.read_shards]
    scratch_shards = [scratch.pools.shards[i] for i in scratch.route.read_shards]
    # A scratch store rebuilt from the WAL holds what the live one expired: compare above the
    # live store's retention horizons (the higher of the two, the scratch one having none).
    horizons = higher_horizons(
        [await read_horizons(live_shards), await read_horizons(scratch_shards)]
    )
    [in_live] = await fingerprint_ranges(live_shards, stream, whole, 1, horizons)
    [in_scratch] = await fingerprint_ranges(scratch_shards, stream, whole, 1, horizons)
    result.records_compared = sum(in_live.counts)
    if in_live == in_scratch:
        return
    for lo in range(1, upto + 1, MAX_DIFF_SEQS):
        chunk = [SeqRange(lo=lo, hi=min(upto, lo + MAX_DIFF_SEQS - 1))]
        differences = diff_records(
            await fetch_records(live_shards, stream, chunk, horizons),
            await fetch_records(scratch_shards, stream, chunk, horizons),
        )
        result.differing += len(differences)
        result.sample += [_describe(d) for d in differences[: 20 - len(result.sample)]]


def _describe(divergence: Divergence) -> str:
    record = divergence.in_a or divergence.in_b
    key = f"{record.tenant_id}/{record.event_id}" if record else "?"
    return f"seq {divergence.seq} {key}: {divergence.kind.value} (a = live, b = rebuilt)"
