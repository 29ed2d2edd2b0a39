"""Settings of the audit pipeline: `[audit]` (how the anchor workflow batches leaves and retries
its tasks) and `[witnesses.<name>]` (the witnesses that cosign the logs' checkpoints).

[audit] defaults are sized for the SLO (99 % of leaves in a signed checkpoint within 1 h), not for
demo speed: a batch closes at `batch_max_leaves` leaves or once its oldest leaf has waited
`batch_max_age_s`, which leaves most of the hour for retries, a witness timing out and a worker
restart. The embedded stack's geoledger.toml sets a short age so the demo shows checkpoints
within seconds.

A witness (C2SP tlog-witness) is named by its section; the name is also its cosigner key name.
The process that serves it (`geoledger witness serve --name NAME`) needs `key_file` and keeps
its state in `region`'s control database; a log that submits to it needs its URL and its
cosigner key, which is `vkey` or, when absent, derived from `key_file` (single-machine setups
like the embedded stack). Each witnessed log is named by its checkpoint origin and checked with
its note key: `vkey`, or the signing key of a region of this configuration.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WitnessedLog(_Strict):
    """A log a witness cosigns: its origin, and where its checkpoint key comes from."""

    origin: str = Field(min_length=1)
    # The log is this region's: its `signing_key_file` (or `manifest_public_key`) signs the
    # checkpoints under the key name `origin`.
    region: str | None = None
    # Or the log's note verifier key "origin+hex8+base64(0x01 || key)", for a log kept elsewhere.
    vkey: str | None = None

    @model_validator(mode="after")
    def _one_key_source(self) -> WitnessedLog:
        if (self.region is None) == (self.vkey is None):
            raise ValueError(f"log {self.origin!r}: set exactly one of region and vkey")
        return self


class WitnessConfig(_Strict):
    """One witness: how to reach it, its key, the logs it cosigns, and how a log treats it when
    it fails (the circuit breaker of storage/audit/witness_health.py)."""

    # The region whose control database holds the witness's state (witness_checkpoints).
    region: str
    key_file: Path | None = None
    vkey: str | None = None
    # Where it listens when served here; logs submit to `url`, default http://<host>:<port>.
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
    url: str | None = None
    logs: list[WitnessedLog] = Field(default_factory=list)
    # A submitting log gives up on one request after timeout_s; after open_after_failures
    # consecutive failures it skips the witness for cooldown_s, then tries again.
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    open_after_failures: int = Field(default=3, ge=1, le=1000)
    cooldown_s: float = Field(default=300.0, ge=0, le=86_400)

    @model_validator(mode="after")
    def _some_key(self) -> WitnessConfig:
        if self.key_file is None and self.vkey is None:
            raise ValueError("set key_file (to serve it, or derive its vkey) or vkey")
        if self.port is None and self.url is None:
            raise ValueError("set port (to serve it here) or url (a witness kept elsewhere)")
        return self

    @property
    def base_url(self) -> str:
        """The submission prefix add-checkpoint is under."""
        return (self.url or f"http://{self.host}:{self.port}").rstrip("/")

    def witnesses_origin(self, origin: str) -> bool:
        """True when this witness cosigns the log `origin`."""
        return any(log.origin == origin for log in self.logs)


class AuditConfig(_Strict):
    """[audit]: frozen into AnchorLogWorkflow's input when `geoledger audit start` starts it (a
    running one keeps its values until `geoledger audit start --restart`), except the sampling
    interval, which the audit worker reads when it starts."""

    batch_max_leaves: int = Field(default=16_384, ge=1, le=1_000_000)
    batch_max_age_s: float = Field(default=300.0, gt=0, le=3600)
    # A discovery waits up to this long for the next sealed segment before a round ends.
    discover_wait_s: float = Field(default=10.0, ge=0, le=300)
    # Segments enriched per round, each by its own AuditSegmentWorkflow, all at once.
    segments_per_round: int = Field(default=32, ge=1, le=1000)
    # Attempts of an audit task (backoff 1 s doubling to 1 min) before its dead-letter entry.
    task_max_attempts: int = Field(default=8, ge=1, le=100)
    sample_interval_s: float = Field(default=15.0, gt=0, le=3600)
    # A region's log origin (C2SP: the log's name, its checkpoints' first line and its note key
    # name) is this prefix + the region name; witnesses name the logs they cosign by it.
    origin_prefix: str = Field(default="geoledger.example/audit/", min_length=1)

    def origin(self, region: str) -> str:
        """The log origin of `region`."""
        return f"{self.origin_prefix}{region}"
