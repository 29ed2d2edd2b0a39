"""Typed payloads of the geo-divergence check: ranges, counts, hashes and a capped sample of
records, never row dumps. Pure: the workflow imports this module."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ledger.seq_buckets import bucket_range
from ledger.seq_range import SeqRange

# storage.dedup.routing.Phase.STABLE, spelled out so this module imports no database code.
STABLE_PHASE = "stable"


class WatermarksInput(BaseModel):
    """Input of `geo_watermarks`: the regions whose replay watermarks are read."""

    # None: every configured region.
    regions: list[str] | None = None


class RegionWatermarks(BaseModel):
    """One region's replay watermarks and its routing phase and read ring size."""

    region: str
    # Per stream `<region>/<node>`, the highest seq applied on every shard.
    positions: dict[str, int]
    phase: str
    ring_size: int

    @property
    def resharding(self) -> bool:
        """True while a re-sharding runs: shards of the read ring may then hold keys twice
        (copied, not yet cleaned up), so record sets cannot be compared."""
        return self.phase != STABLE_PHASE


class WatermarksResult(BaseModel):
    """The watermarks of each region asked for, sorted by region name."""

    regions: list[RegionWatermarks]


class FingerprintsInput(BaseModel):
    """Input of `geo_fingerprints`: fingerprint `ranges` of `stream` in `region`, each cut into at
    most `buckets` buckets."""

    region: str
    stream: str
    ranges: list[SeqRange]
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
        """The number of records in lo..hi."""
        return sum(self.counts)

    def differing_ranges(self, other: RangeFingerprintModel) -> list[SeqRange]:
        """The buckets whose fingerprints differ from `other`'s (the same range in the other
        region). Both regions cut a range the same way; if they did not, all of it differs."""
        same_cut = (self.lo, self.hi, self.width, len(self.counts)) == (
            other.lo,
            other.hi,
            other.width,
            len(other.counts),
        )
        seqs = SeqRange(lo=self.lo, hi=self.hi)
        if not same_cut:
            return [seqs]
        return [
            bucket_range(seqs, self.width, index)
            for index in range(len(self.counts))
            if (self.counts[index], self.hashes[index])
            != (other.counts[index], other.hashes[index])
        ]


class FingerprintsResult(BaseModel):
    """The fingerprints of the ranges asked for, in the same order."""

    ranges: list[RangeFingerprintModel]


class RecordModel(BaseModel):
    """One record as a region holds it at a seq: its key, HLC and envelope digest."""

    tenant_id: str
    event_id: str
    hlc: int
    digest: str  # hex SHA-256 of the envelope


class DivergentRecord(BaseModel):
    """A record of `stream` at `seq` that is not in both regions: `in_a` / `in_b` is what each
    holds there. kind: missing_in_a, missing_in_b or different."""

    stream: str
    seq: int
    kind: str
    in_a: RecordModel | None
    in_b: RecordModel | None

    @property
    def key(self) -> str:
        """`tenant/event_id` of the record (region a's when both hold one)."""
        record = self.in_a or self.in_b
        assert record is not None
        return f"{record.tenant_id}/{record.event_id}"


class ExactDiffInput(BaseModel):
    """Input of `geo_exact_diff`: compare `ranges` of `stream` in regions a and b record by
    record, returning up to `max_sample` of the records that differ."""

    # a < b alphabetically: `in_a` is always the first region of the pair's name.
    a: str
    b: str
    stream: str
    ranges: list[SeqRange]
    max_sample: int = Field(default=20, ge=0)


class ExactDiffResult(BaseModel):
    """How many records of the ranges differ between the regions, and a sample of them."""

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
    """Input of `geo_write_report`: what the check found per stream for the pair (a, b)."""

    a: str
    b: str
    checked_at: str
    streams: list[StreamComparison]


class WriteReportResult(BaseModel):
    """The object key and size of the pair's report in region a's store."""

    key: str
    bytes: int


# --- activities -------------------------------------------------------------------------------
