"""GeoDivergenceWorkflow: checks that every pair of regions holds the same records of every source
stream up to the lower of their replay watermarks (ARCHITECTURE §3 "Geo-divergence", I3).

Per pair (a, b), a < b, and per stream S: `upto = min(watermark_a(S), watermark_b(S))`. Bucket
fingerprints of 1..upto in both regions first; buckets that differ are fingerprinted again, finer,
until they are at most `exact_range` seqs wide; those ranges are then diffed record by record. The
bisection runs here, on fingerprints the activities return; records never pass through the
history beyond a capped sample (the full list is in region a's store). Who won a key is not
compared: that legitimately differs while other streams are still replaying.

Task queue `geoledger-crr`. Ids: `geo-divergence-<timestamp>` for on-demand checks; the Temporal
Schedule `geo-divergence` starts runs named `geo-divergence-<timestamp>` as well.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from itertools import combinations

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.geo_models import (
        ExactDiffInput,
        ExactDiffResult,
        FingerprintsInput,
        FingerprintsResult,
        RangeFingerprintModel,
        RegionWatermarks,
        StreamComparison,
        WatermarksInput,
        WatermarksResult,
        WriteReportInput,
        WriteReportResult,
    )
    from activities.names import (
        GEO_EXACT_DIFF,
        GEO_FINGERPRINTS,
        GEO_WATERMARKS,
        GEO_WRITE_REPORT,
    )
    from ledger import error_types
    from ledger.seq_range import SeqRange
    from ledger.stream_bisection import StreamBisection

SCHEDULE_ID = "geo-divergence"
WORKFLOW_ID_PREFIX = "geo-divergence"
MEMO_KEY = "geo_divergence"

# A fingerprint payload holds about this many buckets (a count and a hash each, ~26 bytes of
# JSON): ~55 KB, well under Temporal's 256 KB payload warning.
BUCKETS_PER_FINGERPRINT_CALL = 2048

ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=[error_types.GEO_INPUT, error_types.GEO_REPORT],
)


def on_demand_workflow_id(now: datetime) -> str:
    """`geo-divergence-<UTC timestamp, milliseconds>` for a check started by hand."""
    return f"{WORKFLOW_ID_PREFIX}-{now.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z"


class GeoDivergenceInput(BaseModel):
    """Input of GeoDivergenceWorkflow: the regions to compare and how finely to look."""

    # Regions to compare, pairwise; None: every configured region.
    regions: list[str] | None = None
    # Buckets each fingerprinted range is cut into.
    buckets: int = Field(default=64, ge=2, le=1024)
    # Ranges at most this wide are diffed record by record instead of fingerprinted again.
    exact_range: int = Field(default=256, ge=1, le=4096)
    # Divergent records returned per stream (all of them are in the report object).
    max_sample: int = Field(default=20, ge=0, le=1000)
    # Per stream, at most this many ranges are diffed; beyond, the stream is marked truncated.
    max_diff_ranges: int = Field(default=512, ge=1, le=100_000)


class PairComparison(BaseModel):
    """What the check found for one pair of regions (a < b): per stream and in all."""

    a: str
    b: str
    pair: str
    streams: list[StreamComparison] = Field(default_factory=list)
    differing_keys: int = 0
    # Object key of the full report in region a's store (None when the pair was skipped).
    report_key: str | None = None
    # Why the pair was not compared (a region re-sharding), None when it was.
    skipped: str | None = None


class GeoDivergenceResult(BaseModel):
    """What one check found for every pair of regions."""

    workflow_id: str
    checked_at: str
    pairs: list[PairComparison]

    @property
    def differing_keys(self) -> int:
        """The divergent records of every pair, added up."""
        return sum(pair.differing_keys for pair in self.pairs)


@workflow.defn
class GeoDivergenceWorkflow:
    """One check of every pair of regions for records they do not both hold."""

    def __init__(self) -> None:
        self._request = GeoDivergenceInput()

    @workflow.run
    async def run(self, request: GeoDivergenceInput) -> GeoDivergenceResult:
        """Compare every pair of the regions; each pair's report goes to its region a's store, and
        the memo sums up the result for the web UI. A pair with a region re-sharding is skipped."""
        self._request = request
        checked_at = workflow.now().isoformat()
        marks = await workflow.execute_activity(
            GEO_WATERMARKS,
            WatermarksInput(regions=request.regions),
            result_type=WatermarksResult,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=ACTIVITY_RETRY,
        )
        pairs = list(combinations(sorted(marks.regions, key=lambda r: r.region), 2))
        workflow.upsert_memo(
            {MEMO_KEY: {"status": "running", "pairs": [f"{a.region}-{b.region}" for a, b in pairs]}}
        )
        compared = await asyncio.gather(*(self._pair(a, b, checked_at) for a, b in pairs))
        result = GeoDivergenceResult(
            workflow_id=workflow.info().workflow_id, checked_at=checked_at, pairs=list(compared)
        )
        workflow.upsert_memo({MEMO_KEY: _summary(result)})
        return result

    async def _pair(
        self, a: RegionWatermarks, b: RegionWatermarks, checked_at: str
    ) -> PairComparison:
        pair = PairComparison(a=a.region, b=b.region, pair=f"{a.region}-{b.region}")
        busy = [r for r in (a, b) if r.resharding]
        if busy:
            pair.skipped = ", ".join(f"{r.region} is re-sharding (phase {r.phase})" for r in busy)
            return pair
        streams = sorted(a.positions.keys() | b.positions.keys())
        # A stream one region never applied has watermark 0 there: nothing is compared yet.
        uptos = [min(a.positions.get(s, 0), b.positions.get(s, 0)) for s in streams]
        compared = await asyncio.gather(
            *(
                self._stream(a.region, b.region, stream, upto)
                for stream, upto in zip(streams, uptos, strict=True)
            )
        )
        pair.streams = list(compared)
        pair.differing_keys = sum(s.differing_keys for s in pair.streams)
        report = await workflow.execute_activity(
            GEO_WRITE_REPORT,
            WriteReportInput(a=a.region, b=b.region, checked_at=checked_at, streams=pair.streams),
            result_type=WriteReportResult,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=ACTIVITY_RETRY,
        )
        pair.report_key = report.key
        return pair

    async def _stream(self, a: str, b: str, stream: str, upto: int) -> StreamComparison:
        request = self._request
        found = StreamComparison(stream=stream, upto=upto)
        plan = StreamBisection(upto, request.exact_range, request.max_diff_ranges)
        per_call = max(1, BUCKETS_PER_FINGERPRINT_CALL // request.buckets)
        first_round = True
        while plan.pending:
            ranges = plan.next_ranges(per_call)
            in_a, in_b = await asyncio.gather(
                self._fingerprints(a, stream, ranges), self._fingerprints(b, stream, ranges)
            )
            if first_round:
                # The first round covers 1..upto whole: its counts are the records compared.
                found.records_a = sum(fp.records for fp in in_a)
                found.records_b = sum(fp.records for fp in in_b)
                first_round = False
            plan.record(in_a, in_b)
        found.truncated = plan.truncated
        diffs = await asyncio.gather(
            *(self._diff(a, b, stream, batch) for batch in plan.diff_batches())
        )
        for diff in diffs:
            found.differing_keys += diff.differing_keys
            found.sample.extend(diff.sample)
            if diff.part_key is not None:
                found.part_keys.append(diff.part_key)
        found.ranges_diffed = len(plan.to_diff)
        found.sample = found.sample[: request.max_sample]
        return found

    async def _fingerprints(
        self, region: str, stream: str, ranges: list[SeqRange]
    ) -> list[RangeFingerprintModel]:
        result: FingerprintsResult = await workflow.execute_activity(
            GEO_FINGERPRINTS,
            FingerprintsInput(
                region=region,
                stream=stream,
                ranges=ranges,
                buckets=self._request.buckets,
            ),
            result_type=FingerprintsResult,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=ACTIVITY_RETRY,
        )
        return result.ranges

    async def _diff(self, a: str, b: str, stream: str, ranges: list[SeqRange]) -> ExactDiffResult:
        result: ExactDiffResult = await workflow.execute_activity(
            GEO_EXACT_DIFF,
            ExactDiffInput(
                a=a,
                b=b,
                stream=stream,
                ranges=ranges,
                max_sample=self._request.max_sample,
            ),
            result_type=ExactDiffResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=ACTIVITY_RETRY,
        )
        return result


def _summary(result: GeoDivergenceResult) -> dict[str, object]:
    """The memo the web UI shows: pairs checked and divergent records per pair."""
    return {
        "status": "divergent" if result.differing_keys else "clean",
        "checked_at": result.checked_at,
        "pairs_checked": sum(1 for pair in result.pairs if pair.skipped is None),
        "divergent_keys": {pair.pair: pair.differing_keys for pair in result.pairs},
        "skipped": {pair.pair: pair.skipped for pair in result.pairs if pair.skipped},
        "reports": {pair.pair: pair.report_key for pair in result.pairs if pair.report_key},
    }
