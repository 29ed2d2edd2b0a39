"""The one configuration model: `geoledger.toml` overlaid by `GEOLEDGER_*` environment variables.

Environment variables use `__` to descend into nested fields, for example
`GEOLEDGER_TEMPORAL__ADDRESS=temporal:7233` or `GEOLEDGER_REGIONS__US__WAL_DIR=/data/wal`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ledger.audit_config import AuditConfig, WitnessConfig
from ledger.deployment_config import DeploymentConfig
from ledger.dp_config import DpConfig
from ledger.envelope import check_tenant_id
from ledger.errors import ConfigError
from ledger.limits_config import LimitsConfig
from ledger.logging_config import LoggingConfig
from ledger.migrate_config import MigrateConfig
from ledger.ops_config import OpsConfig
from ledger.read_config import ReadsConfig
from ledger.store_credentials import refuse_credentials
from ledger.stream_id import NAME_RULE, is_name
from ledger.tier_config import (
    TenantPolicy,
    TierDemotionConfig,
    TierDictionaryConfig,
    TierReadConfig,
    TierRestoreConfig,
    TierStatusConfig,
)
from ledger.tier_policy import TierPolicy, merge_policy
from ledger.tls_config import TemporalTlsFields, TlsConfig
from ledger.tracing_config import TracingConfig

CONFIG_ENV_VAR = "GEOLEDGER_CONFIG"
DEFAULT_CONFIG_FILE = "geoledger.toml"


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in a config file must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectStoreConfig(_Strict):
    """Where a region keeps its objects. `url` is `s3://bucket/prefix`, `gs://bucket/prefix` or
    `file:///absolute/path`."""

    url: str
    # Overrides the provider's endpoint, for emulators (moto, fake-gcs-server) and S3-compatibles.
    endpoint_url: str | None = None
    # S3 only: the signing region of the bucket.
    region_name: str = "us-east-1"
    # S3 server-side encryption: AES256 (SSE-S3) or aws:kms with `kms_key_id`.
    sse: Literal["AES256", "aws:kms"] = "AES256"
    kms_key_id: str | None = None
    # GCS only: customer-managed encryption key (projects/…/cryptoKeys/…).
    kms_key_name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, section: Any) -> Any:
        # Before the fields: a key gets this message, not "extra inputs are not permitted".
        return refuse_credentials(section)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        parsed = urlparse(url)
        if parsed.scheme in ("s3", "gs"):
            if not parsed.netloc:
                raise ValueError(f"expected {parsed.scheme}://bucket/prefix, got {url!r}")
        elif parsed.scheme == "file":
            if not parsed.path.startswith("/"):
                raise ValueError(f"expected file:///absolute/path, got {url!r}")
        else:
            raise ValueError(f"expected a url starting s3://, gs:// or file://, got {url!r}")
        return url

    @model_validator(mode="after")
    def _kms_needs_key(self) -> ObjectStoreConfig:
        if self.sse == "aws:kms" and not self.kms_key_id:
            raise ValueError("sse = 'aws:kms' needs kms_key_id")
        return self

    @property
    def scheme(self) -> str:
        return urlparse(self.url).scheme

    @property
    def bucket(self) -> str:
        """The bucket name; for `file://` stores, the root directory."""
        parsed = urlparse(self.url)
        return parsed.path if parsed.scheme == "file" else parsed.netloc

    @property
    def prefix(self) -> str:
        parsed = urlparse(self.url)
        return "" if parsed.scheme == "file" else parsed.path.strip("/")


class NodeConfig(_Strict):
    """One ingest node: it owns the WAL stream `<region>/<name>`."""

    name: str
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not is_name(name):
            raise ValueError(f"node names are {NAME_RULE}, got {name!r}")
        return name


class RegionConfig(_Strict):
    nodes: list[NodeConfig] = Field(min_length=1)
    # Nodes whose disks were lost (runbooks/geo-failover.md): their streams live on only in the
    # object stores, so CRR replays them into every region that receives them, this one included,
    # and no node may take these names again (a fresh WAL would reuse the streams' object keys).
    lost_nodes: list[str] = Field(default_factory=list)
    wal_dir: Path
    control_dsn: str
    # One DSN per dedup shard; the routing table in the control database says which are live.
    # The first `db migrate` routes over `initial_ring` of them (default: all), dedup-migrate more.
    shard_dsns: list[str] = Field(min_length=1)
    initial_ring: int | None = Field(default=None, ge=1)
    object_store: ObjectStoreConfig
    # Regions whose stores receive this region's shipped segments (ARCHITECTURE §3).
    ship_targets: list[str] = Field(default_factory=list)
    # PKCS8 PEM key the region signs its CRR manifests with; only its own workers need it.
    signing_key_file: Path | None = None
    # Its public key (raw, base64url) for other regions; absent: derived from signing_key_file.
    manifest_public_key: str | None = None
    # Write-once bucket (S3 Object Lock / GCS retention policy) of the audit leaves, and how long
    # each leaves object is retained (storage/objectstore/worm.py). 2555 days: seven years.
    audit_store: ObjectStoreConfig | None = None
    audit_retention_days: int = Field(default=2555, ge=1, le=36_500)

    @property
    def stream_nodes(self) -> list[str]:
        """The node names of every stream the region owns: its nodes' and its lost nodes'."""
        return [*(node.name for node in self.nodes), *self.lost_nodes]

    @field_validator("control_dsn", "shard_dsns")
    @classmethod
    def _postgres_dsn(cls, value: str | list[str]) -> str | list[str]:
        for dsn in [value] if isinstance(value, str) else value:
            if urlparse(dsn).scheme not in ("postgresql", "postgres"):
                raise ValueError(f"expected a postgresql:// DSN, got {dsn!r}")
        return value

    @model_validator(mode="after")
    def _unique_nodes(self) -> RegionConfig:
        names = [node.name for node in self.nodes]
        if len(names) != len(set(names)):
            raise ValueError(f"node names must be unique, got {names}")
        if reused := sorted(set(names) & set(self.lost_nodes)):
            raise ValueError(f"nodes {reused} are lost_nodes: a new node needs a new name")
        if (self.initial_ring or 1) > len(self.shard_dsns):
            raise ValueError(f"initial_ring {self.initial_ring} > {len(self.shard_dsns)} shards")
        return self


class TemporalConfig(TemporalTlsFields):
    """[temporal]: the frontend every client connects to; its TLS fields in ledger/tls_config.py."""

    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    ui_url: str = "http://127.0.0.1:8233"
    # Where each worker process serves the SDK's own temporal_* metrics.
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)


class WalConfig(_Strict):
    """Write-ahead log segments: sealed at max_segment_bytes or max_segment_age_s, whichever
    comes first (ARCHITECTURE §3: 16 MiB or 0.25 s); shipped segments pruned locally."""

    # Only sealed segments ship, so the age is the floor of replication lag (the RPO when a
    # region's disk is lost) and the operator's cost knob: while busy, a node writes up to
    # 1 / age segments and as many manifests per second to each ship target. An open segment
    # with no records is never sealed, so an idle stream writes nothing.
    max_segment_age_s: float = Field(default=0.25, ge=0.05, le=60)
    max_segment_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=1024**3)
    # A sealed segment whose manifest is committed in every ship target and which the node's own
    # dedup apply has passed is deleted locally once it is this old: the stores hold it from then.
    retain_shipped_s: float = Field(default=3600.0, ge=0)


class CrrConfig(_Strict):
    """Cross-region replication tuning. The listing, follow_* and store_audit_interval_s settings
    are frozen into each CRR workflow's input when it starts (workers/crr_control.py): a running
    workflow keeps them until `geoledger crr start --restart`. The others are read by the workers
    when they start."""

    zstd_level: int = Field(default=3, ge=1, le=22)
    max_concurrent_uploads: int = Field(default=4, ge=1, le=64)
    # A listing activity (new sealed segments, new manifests) waits up to idle_wait_s for work,
    # looking every poll_interval_s: new work is picked up within one poll interval while an idle
    # stream costs its workflow one activity per idle_wait_s, keeping history small.
    idle_wait_s: float = Field(default=10.0, ge=0, le=60)
    poll_interval_s: float = Field(default=0.1, gt=0, le=10)
    # How often each node's worker measures wal_crr_lag_seconds.
    lag_sample_interval_s: float = Field(default=1.0, gt=0, le=60)
    # Each shipper run (start, continue-as-new) audits this many manifests of its history in every
    # ship target (and the segments they name), going round from seq 1: each run costs a bounded
    # number of listings however long the history, and the whole history is covered in turn.
    store_audit_manifests: int = Field(default=5000, ge=1, le=1_000_000)
    # ... and a running shipper audits one such window at least this often, so a target that lost
    # objects while the shipper kept running (an emulator restarted empty) is repaired without
    # waiting for a continue-as-new.
    store_audit_interval_s: float = Field(default=60.0, gt=0, le=86_400)
    # A ship run follows its stream: woken by each seal (polling every poll_interval_s as the
    # fallback), it ships what is sealed without returning to its workflow, and returns after
    # follow_idle_s with nothing new sealed (idle_wait_s before its first segment), after
    # follow_max_s, or after follow_max_segments. Each return costs the workflow a few Temporal
    # round trips; the bounds keep its status query (shipped seq) and the store audit current.
    follow_idle_s: float = Field(default=1.0, ge=0, le=60)
    follow_max_s: float = Field(default=10.0, gt=0, le=3600)
    follow_max_segments: int = Field(default=256, ge=1, le=100_000)


class DevStackConfig(_Strict):
    """Ports and state of the embedded stack started by `geoledger dev up`."""

    state_dir: Path = Path(".geoledger")
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    # Below the kernel's ephemeral range (32768-60999), where outgoing connections could hold it.
    postgres_port: int = Field(default=15432, ge=1, le=65535)
    s3_port: int = Field(default=4566, ge=1, le=65535)
    gcs_port: int = Field(default=4443, ge=1, le=65535)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GEOLEDGER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    temporal: TemporalConfig = TemporalConfig()
    dev: DevStackConfig = DevStackConfig()
    wal: WalConfig = WalConfig()
    crr: CrrConfig = CrrConfig()
    regions: dict[str, RegionConfig] = Field(min_length=1)
    # The default tiering policy of every tenant.
    tiering: TierPolicy = TierPolicy()
    tier_demotion: TierDemotionConfig = TierDemotionConfig()
    tenants: dict[str, TenantPolicy] = Field(default_factory=dict)
    tier_reads: TierReadConfig = TierReadConfig()
    tier_restore: TierRestoreConfig = TierRestoreConfig()
    tier_status: TierStatusConfig = TierStatusConfig()
    tier_dictionaries: TierDictionaryConfig = TierDictionaryConfig()
    audit: AuditConfig = AuditConfig()
    witnesses: dict[str, WitnessConfig] = Field(default_factory=dict)
    migrate: MigrateConfig = MigrateConfig()
    ops: OpsConfig = OpsConfig()
    reads: ReadsConfig = ReadsConfig()
    limits: LimitsConfig = LimitsConfig()
    tracing: TracingConfig = TracingConfig()
    logging: LoggingConfig = LoggingConfig()
    tls: TlsConfig = TlsConfig()
    dp: DpConfig = DpConfig()
    deployment: DeploymentConfig = DeploymentConfig()

    @field_validator("regions")
    @classmethod
    def _region_names(cls, regions: dict[str, RegionConfig]) -> dict[str, RegionConfig]:
        for name in regions:
            if not is_name(name):
                raise ValueError(f"region names are {NAME_RULE}, got {name!r}")
        return regions

    @model_validator(mode="after")
    def _tenant_policies_valid(self) -> Settings:
        # Each layer alone may be fine while the tenant's merged policy is not.
        problems: list[str] = []
        for tenant, section in self.tenants.items():
            try:
                check_tenant_id(tenant)
                merge_policy(self.tiering, section)
            except ValueError as exc:
                problems.append(f"tenants.{tenant}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _ship_targets_exist(self) -> Settings:
        for name, region in self.regions.items():
            for target in region.ship_targets:
                if target not in self.regions:
                    raise ValueError(
                        f"regions.{name}.ship_targets names unknown region {target!r}; "
                        f"known: {sorted(self.regions)}"
                    )
        return self

    def region(self, name: str) -> RegionConfig:
        try:
            return self.regions[name]
        except KeyError:
            raise ConfigError(
                f"unknown region {name!r}; configured: {sorted(self.regions)}"
            ) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then environment, then the TOML file.
        toml_file = _config_path_from_context()
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))


_config_path: Path | None = None


def _config_path_from_context() -> Path:
    return _config_path or Path(os.environ.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_FILE))


def config_file_path(path: Path | None = None) -> Path:
    """The configuration file `load_settings(path)` reads."""
    return path or Path(os.environ.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_FILE))


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the configuration, raising one `ConfigError` that lists every bad field by its path.

    `path` defaults to `$GEOLEDGER_CONFIG`, then `./geoledger.toml`.
    """
    global _config_path
    resolved = config_file_path(path)
    if not resolved.is_file():
        raise ConfigError(f"configuration file {resolved} does not exist")
    _config_path = resolved
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(resolved, exc)) from None
    except ValueError as exc:  # a TOML syntax error surfaces as a decode error (a ValueError)
        raise ConfigError(f"{resolved}: {exc}") from None
    finally:
        _config_path = None


def format_validation_error(source: Path, exc: ValidationError) -> str:
    lines = [f"{source}: {exc.error_count()} invalid field(s):"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  - {where}: {error['msg']}")
    return "\n".join(lines)
