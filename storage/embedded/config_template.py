"""The configuration of the two-region embedded stack, rendered as `geoledger.toml` text.

The committed `geoledger.toml` is this template rendered with the default ports; tests render it
with private ports and state directories so they never collide with a running `make demo`. The
tunable sections ([wal], [crr], [tiering], every [tier_*], [reads], [dp], [migrate], [limits],
[tracing], [logging] and [deployment]) are rendered from the settings model's defaults, so the
file shows every tunable without holding a second copy of any default.
"""

from __future__ import annotations

from pathlib import Path

from ledger.audit_config import AuditConfig, WitnessConfig
from ledger.config import CrrConfig, DevStackConfig, RegionConfig, WalConfig
from ledger.deployment_config import CanaryPolicy, DeploymentConfig
from ledger.dp_config import DpConfig
from ledger.limits_config import LimitsConfig
from ledger.logging_config import LoggingConfig
from ledger.migrate_config import MigrateConfig
from ledger.read_config import ReadsConfig
from ledger.tracing_config import TracingConfig
from storage.embedded.config_template_tiering import render_tiering_sections

_TEMPLATE = """\
# geoledger configuration: two regions on the embedded stack (`geoledger dev up`).
# `us` keeps its objects on S3 (moto server), `eu` on GCS (fake-gcs-server), so both drivers run.
# Any field can be overridden by environment variables, e.g. GEOLEDGER_TEMPORAL__ADDRESS.
# Changing a [dev] port? Change the DSNs and endpoint_url values that name it too.

[temporal]
address = "127.0.0.1:{temporal_port}"
namespace = "default"
ui_url = "http://127.0.0.1:{temporal_ui_port}"
worker_metrics_port = 0
# Mutual TLS to the frontend, off while none is set (the embedded dev server is plaintext). The
# client certificate and key every client and worker presents, the CA of the frontend's
# certificate (default: the system's CAs), and the name it is checked against when `address`
# does not carry it. The files are read when a client connects.
# tls_client_cert_file = "/etc/geoledger/tls/temporal-client.pem"
# tls_client_key_file = "/etc/geoledger/tls/temporal-client-key.pem"
# tls_server_ca_file = "/etc/geoledger/tls/temporal-ca.pem"
# tls_server_name = "temporal.internal"

[tls]
# HTTPS for `geoledger ingest serve` and `geoledger ops serve`, off while cert_file is unset:
# the PEM certificate chain and key they present, re-read on SIGHUP (new connections get the new
# certificate, nothing restarts). With client_ca_file a client must present a certificate that
# CA signed (mutual TLS; a new client_ca_file needs a restart).
# cert_file = "/etc/geoledger/tls/api.pem"
# key_file = "/etc/geoledger/tls/api-key.pem"
# client_ca_file = "/etc/geoledger/tls/api-clients-ca.pem"

[wal]
# Segments are sealed at max_segment_bytes or at max_segment_age_s, whichever comes first, and
# only sealed segments ship: the age is the floor of replication lag (the RPO if this region's disk
# is lost). The cost: while busy, up to 1 / max_segment_age_s segments and as many manifests per
# node per second in each ship target. An idle node seals nothing. Raise the age to write fewer,
# larger objects. Both are read by each ingest node when it starts.
max_segment_age_s = {wal.max_segment_age_s!r}
max_segment_bytes = {wal.max_segment_bytes!r}
# Sealed segments that every ship target holds and the node has applied are deleted locally
# once they are this old; the object stores keep them. Read by the CRR workers when they start.
retain_shipped_s = {wal.retain_shipped_s!r}

[crr]
# Read by the CRR workers when they start.
zstd_level = {crr.zstd_level!r}
# Manifests (and their segments) a shipper run or `crr repair-store` audits in each ship target.
store_audit_manifests = {crr.store_audit_manifests!r}
# How often each node's worker measures wal_crr_lag_seconds.
lag_sample_interval_s = {crr.lag_sample_interval_s!r}
# Frozen into each CRR workflow's input when it starts: a running workflow keeps these values
# until `geoledger crr start --restart` (safe: shippers and replayers resume where they were).
# A listing waits up to idle_wait_s for new sealed segments or manifests, looking every
# poll_interval_s.
idle_wait_s = {crr.idle_wait_s!r}
poll_interval_s = {crr.poll_interval_s!r}
max_concurrent_uploads = {crr.max_concurrent_uploads!r}
# A running shipper audits one window of its ship targets at least this often.
store_audit_interval_s = {crr.store_audit_interval_s!r}
# A run follows its stream until follow_idle_s pass with nothing new, follow_max_s pass, or
# follow_max_segments are done; then it reports to its workflow.
follow_idle_s = {crr.follow_idle_s!r}
follow_max_s = {crr.follow_max_s!r}
follow_max_segments = {crr.follow_max_segments!r}

{tiering_sections}
[audit]
# Read by `geoledger audit start` (frozen into each region's anchor workflow until
# `geoledger audit start --restart`). A batch of the region's Merkle log closes at
# batch_max_leaves leaves or once its oldest leaf waited batch_max_age_s. The default age is
# {audit_default_age!r} s, sized for the SLO (99 % of leaves in a signed checkpoint within 1 h);
# this file sets {audit.batch_max_age_s!r} s so the demo shows cosigned checkpoints within seconds.
batch_max_leaves = {audit.batch_max_leaves!r}
batch_max_age_s = {audit.batch_max_age_s!r}
# A discovery waits up to discover_wait_s for the next sealed segment; each round enriches up to
# segments_per_round segments, each in its own AuditSegmentWorkflow; a task is tried
# task_max_attempts times (backoff 1 s doubling to 1 min) before it goes to the dead-letter queue.
discover_wait_s = {audit.discover_wait_s!r}
segments_per_round = {audit.segments_per_round!r}
task_max_attempts = {audit.task_max_attempts!r}
# How often the audit worker samples the audit_* gauges of every region.
sample_interval_s = {audit.sample_interval_s!r}
# A region's log origin is origin_prefix + its name (witnesses below name the logs they cosign).
origin_prefix = "{audit.origin_prefix}"

[reads]
# A signed read (GET /v1/events/..., docs/DECISIONS.md "Authenticated reads") is accepted while
# its timestamp is at most max_skew_s seconds behind or ahead of the node's clock; inside that
# window a captured read can be replayed, and reads the same data again.
max_skew_s = {reads.max_skew_s!r}

[dp]
# `geoledger export dp` / `geoledger dp budget`: every tenant's privacy budget and the ledger of
# its spends live in one region's control database (empty: the first region below), so a budget
# is never spent once per region. Error bars are printed at the confidence level. counts_by_type
# counts the public types given by --types, or these; counts_by_day the last `days` UTC days
# unless --since/--until say otherwise. The ops worker samples dp_budget_remaining and
# dp_exports_total every sample_interval_s.
budget_region = "{dp.budget_region}"
confidence = {dp.confidence!r}
types = [{dp_types}]
days = {dp.days!r}
sample_interval_s = {dp.sample_interval_s!r}

[migrate]
# The copy throttle of `dedup-migrate`, in keys per second: `dedup-migrate plan` estimates the copy
# time at it and stores it with the plan (`--rate` overrides it for one plan).
rate_keys_per_s = {migrate.rate_keys_per_s!r}
# Every writer (ingest node, replay and tiering worker) re-reads its region's route every
# route_poll_s seconds and acknowledges a new epoch; one that could not read it for route_lease_s
# seconds stops writing until it can again. route_poll_s must be less than route_lease_s.
route_poll_s = {migrate.route_poll_s!r}
route_lease_s = {migrate.route_lease_s!r}
# A migration copies in chunks of chunk_keys keys, in activities of at most max_run_s seconds each
# (a new rate, a pause or a rollback takes effect at the next one). After the cutover the old ring
# is kept complete for cleanup_grace_s seconds unless the cleanup is approved sooner. A chunk the
# re-verify finds different is compared again after settle_s (a dual write in flight). The
# workflow asks for writers' acknowledgements every acks_poll_s; the ops worker samples the
# migration gauges every sample_interval_s.
chunk_keys = {migrate.chunk_keys!r}
max_run_s = {migrate.max_run_s!r}
cleanup_grace_s = {migrate.cleanup_grace_s!r}
settle_s = {migrate.settle_s!r}
acks_poll_s = {migrate.acks_poll_s!r}
# A run heartbeats after every chunk; one silent for heartbeat_timeout_s (a killed worker) is
# retried from its last chunk by another worker.
heartbeat_timeout_s = {migrate.heartbeat_timeout_s!r}
sample_interval_s = {migrate.sample_interval_s!r}

[limits]
# Each tenant's token buckets on each ingest node: events refill at events_per_s up to
# events_burst (every event of a POST /v1/events batch takes one; events_burst is at least 1000,
# the largest batch), reads at reads_per_s up to reads_burst (one per GET). A batch or read the
# bucket cannot cover is answered 429 with Retry-After, whole: nothing of it is written.
events_per_s = {limits.events_per_s!r}
events_burst = {limits.events_burst!r}
reads_per_s = {limits.reads_per_s!r}
reads_burst = {limits.reads_burst!r}
# Requests a node verifies and applies at once; the next is answered 429 with Retry-After
# in_flight_retry_after_s before its body is read. /healthz and /metrics are never limited.
max_in_flight = {limits.max_in_flight!r}
in_flight_retry_after_s = {limits.in_flight_retry_after_s!r}
# One tenant's own buckets; the fields left out keep the values above. Read when a node starts.
# [limits.tenants.acme]
# events_per_s = 200000.0
# events_burst = 400000

[tracing]
# OpenTelemetry spans of each ingest batch and of every workflow's activities: exporter "none"
# (nothing installed, nothing paid), "otlp" (OTLP/HTTP to otlp_endpoint, a collector's traces
# URL) or "console" (JSON on standard output). sample_ratio is the share of new traces kept.
exporter = "{tracing.exporter}"
otlp_endpoint = "{tracing.otlp_endpoint}"
service_name = "{tracing.service_name}"
sample_ratio = {tracing.sample_ratio!r}

[logging]
# `geoledger ingest serve` and `geoledger worker run` log to standard error as "text" or "json"
# (one object per line: ts, level, logger, message and region, node, shard, tenant, workflow_id,
# activity where they apply), from level on (DEBUG, INFO, WARNING or ERROR).
format = "{logging.format}"
level = "{logging.level}"

[deployment]
# Temporal worker versioning, off while build_id is empty (`geoledger worker run --build-id B`
# sets it for one worker): a versioned worker belongs to deployment `name` ({{queue}} is its task
# queue) at version build_id, and tags its SDK metrics with both. Read when a worker starts.
name = "{deployment.name}"
build_id = "{deployment.build_id}"
# The /metrics URLs of the workers whose SDK metrics `geoledger canary start` compares.
metrics_targets = {deployment.metrics_targets!r}
# Which deployments may ramp, and how (frozen into each canary's workflow input when it starts):
# percentages held window_s each (analysed every check_interval_s), the SLO error budget, the
# burn rate and latency ratio against the current build that roll a build back, the executions an
# analysis needs, and who may promote a paused canary.
# [deployment.policies.geoledger-geoledger-ops]
# steps = {policy.steps!r}
# window_s = {policy.window_s!r}
# check_interval_s = {policy.check_interval_s!r}
# slo_error_ratio = {policy.slo_error_ratio!r}
# max_burn_rate = {policy.max_burn_rate!r}
# max_latency_ratio = {policy.max_latency_ratio!r}
# min_latency_delta_ms = {policy.min_latency_delta_ms!r}
# min_executions = {policy.min_executions!r}
# min_errors = {policy.min_errors!r}
# promoters = ["alice"]

[dev]
state_dir = "{state_dir}"
temporal_port = {temporal_port}
temporal_ui_port = {temporal_ui_port}
postgres_port = {postgres_port}
s3_port = {s3_port}
gcs_port = {gcs_port}

[regions.us]
wal_dir = "{state_dir}/wal/us"
control_dsn = "postgresql://postgres@127.0.0.1:{postgres_port}/geoledger_us_control"
shard_dsns = [
  "postgresql://postgres@127.0.0.1:{postgres_port}/geoledger_us_shard0",
  "postgresql://postgres@127.0.0.1:{postgres_port}/geoledger_us_shard1",
  "postgresql://postgres@127.0.0.1:{postgres_port}/geoledger_us_shard2",
  "postgresql://postgres@127.0.0.1:{postgres_port}/geoledger_us_shard3",
]
# us starts on two of its four shards; `geoledger demo` grows its ring online (dedup-migrate).
initial_ring = 2
ship_targets = ["us", "eu"]
signing_key_file = "{state_dir}/keys/region-us.pem"
audit_retention_days = {audit_retention_days}
nodes = [{{ name = "n1", port = {us_port} }}]
# Nodes whose disks were lost: their streams are replayed from the object stores into every region
# that receives them, this one included; a new node takes a new name (runbooks/geo-failover.md).
lost_nodes = []

[regions.us.object_store]
url = "s3://geoledger-us/ledger"
endpoint_url = "http://127.0.0.1:{s3_port}"
sse = "AES256"

# The audit leaves of each sealed segment, in a write-once bucket (S3 Object Lock, COMPLIANCE
# mode) that `geoledger dev up` creates; retained audit_retention_days, then deletable.
[regions.us.audit_store]
url = "s3://geoledger-us-audit/leaves"
endpoint_url = "http://127.0.0.1:{s3_port}"
sse = "AES256"

[regions.eu]
wal_dir = "{state_dir}/wal/eu"
control_dsn = "postgresql://postgres@127.0.0.1:{postgres_port}/geoledger_eu_control"
shard_dsns = [
  "postgresql://postgres@127.0.0.1:{postgres_port}/geoledger_eu_shard0",
  "postgresql://postgres@127.0.0.1:{postgres_port}/geoledger_eu_shard1",
]
ship_targets = ["eu", "us"]
signing_key_file = "{state_dir}/keys/region-eu.pem"
audit_retention_days = {audit_retention_days}
nodes = [{{ name = "n1", port = {eu_port} }}]
# Nodes whose disks were lost: their streams are replayed from the object stores into every region
# that receives them, this one included; a new node takes a new name (runbooks/geo-failover.md).
lost_nodes = []

[regions.eu.object_store]
url = "gs://geoledger-eu/ledger"
endpoint_url = "http://127.0.0.1:{gcs_port}"

# A GCS bucket with a locked retention policy. fake-gcs-server keeps no retention policy: on the
# embedded stack this bucket refuses overwrites but not deletes (`check_worm_bucket` says so).
[regions.eu.audit_store]
url = "gs://geoledger-eu-audit/leaves"
endpoint_url = "http://127.0.0.1:{gcs_port}"

# Each region's audit log is witnessed by the other region's witness (`geoledger witness serve
# --name witness-us`): witness-us cosigns eu's checkpoints, witness-eu cosigns us's. A log skips a
# witness for cooldown_s after open_after_failures consecutive failures.
[witnesses.witness-us]
region = "us"
key_file = "{state_dir}/keys/witness-us.pem"
port = {us_witness_port}
timeout_s = {witness.timeout_s!r}
open_after_failures = {witness.open_after_failures!r}
cooldown_s = {witness.cooldown_s!r}
logs = [{{ origin = "{eu_origin}", region = "eu" }}]

[witnesses.witness-eu]
region = "eu"
key_file = "{state_dir}/keys/witness-eu.pem"
port = {eu_witness_port}
timeout_s = {witness.timeout_s!r}
open_after_failures = {witness.open_after_failures!r}
cooldown_s = {witness.cooldown_s!r}
logs = [{{ origin = "{us_origin}", region = "us" }}]

[tenants.acme]
hot_ttl_days = 7
warm_ttl_days = 90
"""

# The embedded stack anchors at demo speed; every other [audit] value is the model's default.
DEMO_AUDIT = AuditConfig(batch_max_age_s=2.0)

DEFAULT_US_INGEST_PORT = 8101
DEFAULT_EU_INGEST_PORT = 8201
DEFAULT_US_WITNESS_PORT = 8102
DEFAULT_EU_WITNESS_PORT = 8202


def render_dev_config(
    dev: DevStackConfig,
    us_ingest_port: int = DEFAULT_US_INGEST_PORT,
    eu_ingest_port: int = DEFAULT_EU_INGEST_PORT,
    us_witness_port: int = DEFAULT_US_WITNESS_PORT,
    eu_witness_port: int = DEFAULT_EU_WITNESS_PORT,
) -> str:
    """The `geoledger.toml` text for `dev` with these ingest and witness ports."""
    return _TEMPLATE.format(
        wal=WalConfig(),
        crr=CrrConfig(),
        tiering_sections=render_tiering_sections(),
        state_dir=Path(dev.state_dir).as_posix(),
        temporal_port=dev.temporal_port,
        temporal_ui_port=dev.temporal_ui_port,
        postgres_port=dev.postgres_port,
        s3_port=dev.s3_port,
        gcs_port=dev.gcs_port,
        audit_retention_days=RegionConfig.model_fields["audit_retention_days"].default,
        us_port=us_ingest_port,
        eu_port=eu_ingest_port,
        witness=_WitnessDefaults(),
        audit=DEMO_AUDIT,
        migrate=MigrateConfig(),
        reads=ReadsConfig(),
        dp=DpConfig(),
        dp_types=", ".join(f'"{t}"' for t in DpConfig().types),
        limits=LimitsConfig(),
        tracing=TracingConfig(),
        logging=LoggingConfig(),
        deployment=DeploymentConfig(),
        policy=CanaryPolicy(),
        audit_default_age=AuditConfig().batch_max_age_s,
        us_origin=DEMO_AUDIT.origin("us"),
        eu_origin=DEMO_AUDIT.origin("eu"),
        us_witness_port=us_witness_port,
        eu_witness_port=eu_witness_port,
    )


class _WitnessDefaults:
    """The tunable defaults of a `[witnesses.<name>]` section, read off the settings model."""

    timeout_s = WitnessConfig.model_fields["timeout_s"].default
    open_after_failures = WitnessConfig.model_fields["open_after_failures"].default
    cooldown_s = WitnessConfig.model_fields["cooldown_s"].default
