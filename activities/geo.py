"""Activities of GeoDivergenceWorkflow: watermarks, bucket fingerprints, exact diffs of small
ranges and the pair's report, and the divergence gauge (names: activities/names.py, payloads:
activities/geo_models.py).

Payloads carry ranges, counts, hashes and a capped sample of divergent records; the full list
goes to region a's object store (storage/geo/report.py). Domain errors become non-retryable
`ApplicationError`s here and nowhere else; database and object-store failures are retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from prometheus_client import Gauge
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.geo_models import (
    DivergentRecord,
    ExactDiffInput,
    ExactDiffResult,
    FingerprintsInput,
    FingerprintsResult,
    RangeFingerprintModel,
    RecordModel,
    RegionWatermarks,
    WatermarksInput,
    WatermarksResult,
    WriteReportInput,
    WriteReportResult,
)
from activities.heartbeat import with_heartbeats
from activities.names import GEO_EXACT_DIFF, GEO_FINGERPRINTS, GEO_WATERMARKS, GEO_WRITE_REPORT
from ledger import error_types
from ledger.config import Settings
from ledger.errors import ConfigError, GeoInputError
from storage.dedup.store import DedupStore
from storage.geo import (
    Divergence,
    GeoReportError,
    StreamRecord,
    StreamSection,
    diff_records,
    fetch_records,
    fingerprint_ranges,
    pair_name,
    part_key,
    report_key,
    write_part,
    write_report,
)
from storage.objectstore.base import ObjectStore
from storage.tiering.horizons import higher_horizons, read_horizons

DIVERGENCE_KEYS = Gauge(
    "geo_dedup_divergence_keys",
    "Records that differ between the two regions of a pair in the last geo-divergence check "
    "(up to the lower of their replay watermarks).",
    ["pair"],
)
# With several workers on the queue, each exports the count of the last check it reported: this
# says which sample is the freshest (alert on the pair's newest one).
LAST_CHECK_TIMESTAMP = Gauge(
    "geo_dedup_divergence_last_check_timestamp_seconds",
    "Unix time at which this process last reported a geo-divergence check of the pair.",
    ["pair"],
)

_T = TypeVar("_T")


class GeoResources(Protocol):
    """What the activities need from the worker's shared per-region connections
    (`activities.region_resources.RegionResources` provides it)."""

    async def dedup(self, region: str) -> DedupStore:
        """The dedup store of `region`."""
        ...

    def store(self, region: str) -> ObjectStore:
        """The object store of `region`."""
        ...


# --- payloads ---------------------------------------------------------------------------------


class GeoActivities:
    """The geo-divergence activities of one worker, over its shared region connections."""

    def __init__(self, settings: Settings, resources: GeoResources) -> None:
        self._settings = settings
        self._resources = resources

    @activity.defn(name=GEO_WATERMARKS)
    async def watermarks(self, request: WatermarksInput) -> WatermarksResult:
        """Each region's applied position per stream and its routing phase."""
        names = sorted(set(request.regions)) if request.regions else sorted(self._settings.regions)
        for name in names:
            try:
                self._settings.region(name)
            except ConfigError as exc:
                raise ApplicationError(
                    str(exc), type=error_types.GEO_INPUT, non_retryable=True
                ) from exc
        found = []
        for name in names:
            dedup = await self._resources.dedup(name)
            # The worker is long-lived: read the route in force now, not the one cached at open.
            route = await dedup.refresh_routing()
            found.append(
                RegionWatermarks(
                    region=name,
                    positions=await dedup.applied_positions(),
                    phase=route.phase.value,
                    ring_size=route.read_ring,
                )
            )
        return WatermarksResult(regions=found)

    @activity.defn(name=GEO_FINGERPRINTS)
    async def fingerprints(self, request: FingerprintsInput) -> FingerprintsResult:
        """Bucket fingerprints of `ranges` of `stream` in one region (one query per shard)."""
        shards = await self._read_ring(request.region)
        with _domain_errors():
            found = await with_heartbeats(
                fingerprint_ranges(
                    shards,
                    request.stream,
                    request.ranges,
                    request.buckets,
                    await self._horizons(),
                )
            )
        return FingerprintsResult(
            ranges=[
                RangeFingerprintModel(
                    lo=fp.seqs.lo,
                    hi=fp.seqs.hi,
                    width=fp.width,
                    counts=list(fp.counts),
                    hashes=list(fp.hashes),
                )
                for fp in found
            ]
        )

    @activity.defn(name=GEO_EXACT_DIFF)
    async def exact_diff(self, request: ExactDiffInput) -> ExactDiffResult:
        """Every record of `ranges` of `stream` not in both regions; all of them go to a part in
        region a's store, a sample comes back."""
        if not request.a < request.b:
            raise ApplicationError(
                f"expected regions a < b alphabetically, got a={request.a!r}, b={request.b!r}",
                type=error_types.GEO_INPUT,
                non_retryable=True,
            )
        shards_a = await self._read_ring(request.a)
        shards_b = await self._read_ring(request.b)
        horizons = await self._horizons()
        with _domain_errors():
            in_a, in_b = await with_heartbeats(
                asyncio.gather(
                    fetch_records(shards_a, request.stream, request.ranges, horizons),
                    fetch_records(shards_b, request.stream, request.ranges, horizons),
                )
            )
            divergences = diff_records(in_a, in_b)
            if not divergences:
                return ExactDiffResult(differing_keys=0, sample=[])
            pair = pair_name(request.a, request.b)
            key = part_key(_workflow_id(), pair, request.stream, request.ranges)
            await write_part(self._resources.store(request.a), key, request.stream, divergences)
        return ExactDiffResult(
            differing_keys=len(divergences),
            sample=[
                _divergent_record(request.stream, d) for d in divergences[: request.max_sample]
            ],
            part_key=key,
        )

    @activity.defn(name=GEO_WRITE_REPORT)
    async def write_report(self, request: WriteReportInput) -> WriteReportResult:
        """Write the pair's report to region a's store and export its divergence count."""
        pair = pair_name(request.a, request.b)
        workflow_id = _workflow_id()
        key = report_key(workflow_id, pair)
        with _domain_errors():
            size = await write_report(
                self._resources.store(request.a),
                key,
                workflow_id=workflow_id,
                a=request.a,
                b=request.b,
                checked_at=request.checked_at,
                streams=[
                    StreamSection(
                        stream=s.stream,
                        upto=s.upto,
                        records_a=s.records_a,
                        records_b=s.records_b,
                        differing_keys=s.differing_keys,
                        truncated=s.truncated,
                        part_keys=tuple(s.part_keys),
                    )
                    for s in request.streams
                ],
            )
        DIVERGENCE_KEYS.labels(pair).set(sum(s.differing_keys for s in request.streams))
        LAST_CHECK_TIMESTAMP.labels(pair).set_to_current_time()
        return WriteReportResult(key=key, bytes=size)

    async def _horizons(self) -> dict[str, int]:
        """Per tenant, the highest retention horizon of every configured region: both sides of
        a pair compare only above it, whichever of them expired first. Read afresh by each call;
        an expiry raising it between the two sides' fingerprints shows as a difference that the
        exact diff, reading it again, does not confirm."""
        per_region = []
        for region in sorted(self._settings.regions):
            per_region.append(await read_horizons(await self._read_ring(region)))
        return higher_horizons(per_region)

    async def _read_ring(self, region: str) -> list[object]:
        """The pools of the shards reads go to: every key lives on exactly one of them."""
        dedup = await self._resources.dedup(region)
        return list(dedup.pools.shards[: dedup.route.read_ring])


def _workflow_id() -> str:
    """The id of the workflow run this activity works for: it names the report's objects."""
    workflow_id = activity.info().workflow_id
    if workflow_id is None:
        raise ApplicationError(
            "expected to run for a workflow, got a standalone activity",
            type=error_types.GEO_INPUT,
            non_retryable=True,
        )
    return workflow_id


def _divergent_record(stream: str, divergence: Divergence) -> DivergentRecord:
    return DivergentRecord(
        stream=stream,
        seq=divergence.seq,
        kind=divergence.kind.value,
        in_a=_record_model(divergence.in_a),
        in_b=_record_model(divergence.in_b),
    )


def _record_model(record: StreamRecord | None) -> RecordModel | None:
    if record is None:
        return None
    return RecordModel(
        tenant_id=record.tenant_id,
        event_id=record.event_id,
        hlc=record.hlc,
        digest=record.digest.hex(),
    )


@contextmanager
def _domain_errors() -> Iterator[None]:
    """Turn the check's own errors into non-retryable ApplicationErrors (the same input fails the
    same way); anything else propagates and is retried."""
    try:
        yield
    except (GeoInputError, GeoReportError) as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
