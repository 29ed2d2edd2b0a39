"""Typed inputs and results of the CRR activities. Payloads carry keys, seqs and hashes - never
WAL bytes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ledger.manifest_ref import ManifestRef
from ledger.shipped import ShippedSegment
from ledger.stream_id import StreamId


class StreamRef(BaseModel):
    """A stream as payloads carry it: region and node, each its own field."""

    region: str
    node: str

    @property
    def stream(self) -> StreamId:
        """The stream's `<region>/<node>` id."""
        return StreamId(self.region, self.node)


class LongPoll(BaseModel):
    """How a listing waits for new work: up to `wait_s`, looking every `interval_s` (from the
    crr.idle_wait_s and crr.poll_interval_s settings)."""

    wait_s: float
    interval_s: float


class Follow(BaseModel):
    """How long a run follows its source for new work (see CrrConfig's follow_* settings).

    It waits up to `poll.wait_s` for its first item (looking every `poll.interval_s`, sooner
    when woken), then returns once `idle_s` pass with nothing new, `max_s` after it started, or
    after `max_items` items. It takes up to `batch` items at a time.
    """

    poll: LongPoll
    idle_s: float = Field(ge=0)
    max_s: float = Field(gt=0)
    max_items: int = Field(ge=1)
    batch: int = Field(ge=1)


class ListSegmentsInput(BaseModel):
    """Input of `crr_list_sealed_segments`: up to `limit` sealed segments of `source` after
    `after_seq`, waiting for the first as `poll` says."""

    source: StreamRef
    after_seq: int
    limit: int = 16
    poll: LongPoll


class SegmentRef(BaseModel):
    """One sealed segment of the node's WAL: the seqs it holds, both included."""

    first_seq: int
    last_seq: int


class ListSegmentsResult(BaseModel):
    """The sealed segments found after the watermark, in seq order (empty when the wait ran
    out)."""

    segments: list[SegmentRef]


class ShipSegmentInput(BaseModel):
    """Input of `crr_ship_segment`: upload the sealed segment of `source` starting at
    `first_seq` to every ship target."""

    source: StreamRef
    first_seq: int


class CommitManifestInput(BaseModel):
    """Input of `crr_commit_manifest`: the uploaded segment to commit and the hash of the
    manifest before it, which the new one chains to."""

    source: StreamRef
    segment: ShippedSegment
    prev_manifest_sha256: str


class ShipWatermark(BaseModel):
    """What has been committed: the last manifest of the stream in the region's own store."""

    last_seq: int = 0
    manifest_sha256: str = ""


class ReadShipWatermarkInput(BaseModel):
    """Input of `crr_read_ship_watermark`: the stream whose last committed manifest is read."""

    source: StreamRef


class ReplayPositionInput(BaseModel):
    """Input of `crr_replay_position`: the stream whose replay watermark in `into_region` is
    read."""

    source: StreamRef
    into_region: str


class ReplayPosition(BaseModel):
    """The highest seq of the stream applied to the region's dedup store (0: none yet)."""

    applied_seq: int


class ListManifestsInput(BaseModel):
    """Input of `crr_list_manifests`: up to `limit` manifests of `source` after `after_seq` in
    `into_region`'s store, waiting for the first as `poll` says."""

    source: StreamRef
    into_region: str
    after_seq: int
    limit: int = 32
    poll: LongPoll


class ListManifestsResult(BaseModel):
    """The manifests that can be applied next, consecutive from the watermark, and the first seq
    of a later manifest when the next one is missing (a gap), else None."""

    ready: list[ManifestRef]
    gap_first_seq: int | None = None


class ApplySegmentInput(BaseModel):
    """Input of `crr_apply_segment`: verify and apply the segment `manifest` commits to
    `into_region`; `expected_prev_sha256` is the hash it must chain to (None: not checked)."""

    source: StreamRef
    into_region: str
    manifest: ManifestRef
    expected_prev_sha256: str | None


class ApplySegmentResult(BaseModel):
    """What applying one segment did: the manifest and last seq now applied, and its records by
    outcome."""

    manifest_sha256: str
    last_seq: int
    records: int
    accepted: int
    duplicates: int
    conflicts: int


class ReplayRunInput(BaseModel):
    """Apply `manifests` (consecutive, listed after `after_seq`) in order."""

    source: StreamRef
    into_region: str
    after_seq: int
    # Hash of the manifest at after_seq; None when unknown (its successor's chain check is
    # skipped: the workflow knows it only after applying a manifest itself).
    expected_prev_sha256: str | None
    manifests: list[ManifestRef]
    # Set: after `manifests` (which may then be empty) the run lists and applies what is
    # committed next, for as long as `follow` allows; None: it applies `manifests` alone.
    follow: Follow | None = None


class ReplayRunResult(BaseModel):
    """Where the stream stands after a run (also the run's heartbeat checkpoint) and what the
    run applied."""

    applied_seq: int
    last_manifest_sha256: str | None
    segments: int = 0
    records: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    # Set when the run's last listing found the next manifest missing and a later one present
    # (the first seq of that later one): replay is blocked on a gap.
    gap_first_seq: int | None = None


class ShipRunInput(BaseModel):
    """Ship `segments` (consecutive sealed segments, listed after `after_seq`) in order."""

    source: StreamRef
    after_seq: int
    prev_manifest_sha256: str
    segments: list[SegmentRef]
    max_concurrent_uploads: int = 4
    # Set after a run stopped part-way (pause, failure, a new workflow): a manifest it was
    # writing may be in some targets only; the run completes it before anything else.
    complete_commits_first: bool = True
    # Set: after `segments` (which may then be empty) the run lists and ships what is sealed
    # next, for as long as `follow` allows; None: it ships `segments` alone.
    follow: Follow | None = None


class ShipRunResult(BaseModel):
    """Where the stream's shipping stands after a run (also the run's heartbeat checkpoint) and
    what the run shipped."""

    last_seq: int
    manifest_sha256: str
    segments: int = 0
    raw_bytes: int = 0
    compressed_bytes: int = 0


class StoreAuditCursor(BaseModel):
    """Where the next audit window starts, and what the audit has left unrepaired per target:
    in the round under way (from seq 1 to the newest manifest) and in the last complete round."""

    after_seq: int = Field(default=0, ge=0)
    # Hash of the manifest ending at after_seq ("" at 0; None when the targets disagreed on it).
    after_sha256: str | None = ""
    round_remaining: dict[str, int] = Field(default_factory=dict)
    last_round_remaining: dict[str, int] = Field(default_factory=dict)


class RepairStoreInput(BaseModel):
    """Input of `crr_repair_store`: audit and repair the window of `source`'s history after
    `cursor`."""

    source: StreamRef
    cursor: StoreAuditCursor = StoreAuditCursor()


class RepairStoreResult(BaseModel):
    """What one audit window did: the cursor of the next window and the objects it repaired."""

    cursor: StoreAuditCursor
    repaired: int = 0
    # One line per object that could not be repaired (the first few).
    problems: list[str] = Field(default_factory=list)
