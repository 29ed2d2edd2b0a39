"""Activities of GeoDivergenceWorkflow: watermarks, bucket fingerprints, exact diffs of small
ranges and the pair's report, plus their names, typed payloads and the divergence gauge.

Payloads carry ranges, counts, hashes and a capped sample of divergent records; the full list
goes to region a's object store (storage/geo/report.py). Domain errors become non-retryable
`ApplicationError`s here and nowhere else; database and object-store failures are retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from prometheus_client import Gauge
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ledger.config import Settings
from ledger.errors import ConfigError
from storage.dedup.routing import Phase
from storage.dedup.store import DedupStore
from storage.geo import (
    MAX_DIFF_SEQS,
    Divergence,
    GeoInputError,
    GeoReportError,
    SeqRange,
    StreamRecord,
    StreamSection,
    bucket_range,
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

WATERMARKS = "geo_watermarks"
FINGERPRINTS = "geo_fingerprints"
EXACT_DIFF = "geo_exact_diff"
WRITE_REPORT = "geo_write_report"

NON_RETRYABLE_ERRORS = ["GeoInputError", "GeoReportError"]
DIFF_SEQS_PER_CALL = MAX_DIFF_SEQS
HEARTBEAT_EVERY_S = 5.0

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

    async def dedup(self, region: str) -> DedupStore: ...

    def store(self, region: str) -> ObjectStore: ...


# --- payloads ---------------------------------------------------------------------------------


class SeqRangeModel(BaseModel):
    """Seqs lo..hi of one stream, both included."""

    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def to_range(self) -> SeqRange:
        return SeqRange(self.lo, self.hi)

    @classmethod
    def of(cls, seqs: SeqRange) -> SeqRangeModel:
        return cls(lo=seqs.lo, hi=seqs.hi)


class WatermarksInput(BaseModel):
    # None: every configured region.
    regions: list[str] | None = None


class RegionWatermarks(BaseModel):
    region: str
    # Per stream `<region>/<node>`, the highest seq applied on every shard.
    positions: dict[str, int]
    phase: str
    ring_size: int

    @property
    def resharding(self) -> bool:
        """True while a re-sharding runs: shards of the read ring may then hold keys twice
        (copied, not yet cleaned up), so record sets cannot be compared."""
        return self.phase != Phase.STABLE.value


class WatermarksResult(BaseModel):
    regions: list[RegionWatermarks]


class FingerprintsInput(BaseModel):
    region: str
    stream: str
    ranges: list[SeqRangeModel]
    buckets: int


class RangeFingerprintModel(BaseModel):
    """Per bucket of `width` seqs of lo..hi: the record count and the hash sum mod 2**64."""

    lo: int
    hi: int
    width: int
    counts: list[int]
    hashes: list[int]

    @property
    def records(self) -> int:
        return sum(self.counts)

    def differing_ranges(self, other: RangeFingerprintModel) -> list[SeqRangeModel]:
        """The buckets whose fingerprints differ from `other`'s (the same range in the other
        region). Both regions cut a range the same way; if they did not, all of it differs."""
        same_cut = (self.lo, self.hi, self.width, len(self.counts)) == (
            other.lo,
            other.hi,
            other.width,
            len(other.counts),
        )
        if not same_cut:
            return [SeqRangeModel(lo=self.lo, hi=self.hi)]
        seqs = SeqRange(self.lo, self.hi)
        return [
            SeqRangeModel.of(bucket_range(seqs, self.width, index))
            for index in range(len(self.counts))
            if (self.counts[index], self.hashes[index])
            != (other.counts[index], other.hashes[index])
        ]


class FingerprintsResult(BaseModel):
    ranges: list[RangeFingerprintModel]


class RecordModel(BaseModel):
    tenant_id: str
    event_id: str
    hlc: int
    digest: str  # hex SHA-256 of the envelope

    @classmethod
    def of(cls, record: StreamRecord | None) -> RecordModel | None:
        if record is None:
            return None
        return cls(
            tenant_id=record.tenant_id,
            event_id=record.event_id,
            hlc=record.hlc,
            digest=record.digest.hex(),
        )


class DivergentRecord(BaseModel):
    """A record of `stream` at `seq` that is not in both regions: `in_a` / `in_b` is what each
    holds there. kind: missing_in_a, missing_in_b or different."""

    stream: str
    seq: int
    kind: str
    in_a: RecordModel | None
    in_b: RecordModel | None

    @classmethod
    def of(cls, stream: str, divergence: Divergence) -> DivergentRecord:
        return cls(
            stream=stream,
            seq=divergence.seq,
            kind=divergence.kind.value,
            in_a=RecordModel.of(divergence.in_a),
            in_b=RecordModel.of(divergence.in_b),
        )

    @property
    def key(self) -> str:
        """`tenant/event_id` of the record (region a's when both hold one)."""
        record = self.in_a or self.in_b
        assert record is not None
        return f"{record.tenant_id}/{record.event_id}"


class ExactDiffInput(BaseModel):
    # a < b alphabetically: `in_a` is always the first region of the pair's name.
    a: str
    b: str
    stream: str
    ranges: list[SeqRangeModel]
    max_sample: int = Field(default=20, ge=0)


class ExactDiffResult(BaseModel):
    differing_keys: int
    sample: list[DivergentRecord]
    # The part in region a's store listing every divergent record; None when there is none.
    part_key: str | None = None


class StreamComparison(BaseModel):
    """What the check found for one source stream of a pair."""

    stream: str
    upto: int  # compared seqs 1..upto: the lower of the two regions' watermarks
    records_a: int = 0
    records_b: int = 0
    differing_keys: int = 0
    # True when the differing ranges outnumbered the check's cap: differing_keys is then a
    # lower bound, found in the first ranges only.
    truncated: bool = False
    ranges_diffed: int = 0
    sample: list[DivergentRecord] = Field(default_factory=list)
    part_keys: list[str] = Field(default_factory=list)


class WriteReportInput(BaseModel):
    a: str
    b: str
    checked_at: str
    streams: list[StreamComparison]


class WriteReportResult(BaseModel):
    key: str
    bytes: int


# --- activities -------------------------------------------------------------------------------


class GeoActivities:
    def __init__(self, settings: Settings, resources: GeoResources) -> None:
        self._settings = settings
        self._resources = resources

    @activity.defn(name=WATERMARKS)
    async def watermarks(self, request: WatermarksInput) -> WatermarksResult:
        """Each region's applied position per stream and its routing phase."""
        names = sorted(set(request.regions)) if request.regions else sorted(self._settings.regions)
        for name in names:
            try:
                self._settings.region(name)
            except ConfigError as exc:
                raise ApplicationError(str(exc), type="GeoInputError", non_retryable=True) from exc
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
                    ring_size=route.ring_size,
                )
            )
        return WatermarksResult(regions=found)

    @activity.defn(name=FINGERPRINTS)
    async def fingerprints(self, request: FingerprintsInput) -> FingerprintsResult:
        """Bucket fingerprints of `ranges` of `stream` in one region (one query per shard)."""
        shards = await self._read_ring(request.region)
        with _domain_errors():
            ranges = [r.to_range() for r in request.ranges]
            found = await _with_heartbeats(
                fingerprint_ranges(shards, request.stream, ranges, request.buckets)
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

    @activity.defn(name=EXACT_DIFF)
    async def exact_diff(self, request: ExactDiffInput) -> ExactDiffResult:
        """Every record of `ranges` of `stream` not in both regions; all of them go to a part in
        region a's store, a sample comes back."""
        if not request.a < request.b:
            raise ApplicationError(
                f"expected regions a < b alphabetically, got a={request.a!r}, b={request.b!r}",
                type="GeoInputError",
                non_retryable=True,
            )
        shards_a = await self._read_ring(request.a)
        shards_b = await self._read_ring(request.b)
        with _domain_errors():
            ranges = [r.to_range() for r in request.ranges]
            in_a, in_b = await _with_heartbeats(
                asyncio.gather(
                    fetch_records(shards_a, request.stream, ranges),
                    fetch_records(shards_b, request.stream, ranges),
                )
            )
            divergences = diff_records(in_a, in_b)
            if not divergences:
                return ExactDiffResult(differing_keys=0, sample=[])
            pair = pair_name(request.a, request.b)
            key = part_key(_workflow_id(), pair, request.stream, ranges)
            await write_part(self._resources.store(request.a), key, request.stream, divergences)
        return ExactDiffResult(
            differing_keys=len(divergences),
            sample=[
                DivergentRecord.of(request.stream, d) for d in divergences[: request.max_sample]
            ],
            part_key=key,
        )

    @activity.defn(name=WRITE_REPORT)
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

    async def _read_ring(self, region: str) -> list[object]:
        """The pools of the shards reads go to: every key lives on exactly one of them."""
        dedup = await self._resources.dedup(region)
        return list(dedup.pools.shards[: dedup.route.ring_size])


def _workflow_id() -> str:
    """The id of the workflow run this activity works for: it names the report's objects."""
    workflow_id = activity.info().workflow_id
    if workflow_id is None:
        raise ApplicationError(
            "expected to run for a workflow, got a standalone activity",
            type="GeoInputError",
            non_retryable=True,
        )
    return workflow_id


@contextmanager
def _domain_errors() -> Iterator[None]:
    """Turn the check's own errors into non-retryable ApplicationErrors (the same input fails the
    same way); anything else propagates and is retried."""
    try:
        yield
    except (GeoInputError, GeoReportError) as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc


async def _with_heartbeats(work: Awaitable[_T]) -> _T:
    """Await `work`, heartbeating meanwhile: one long SQL query must not look like a dead worker."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        task.cancel()
