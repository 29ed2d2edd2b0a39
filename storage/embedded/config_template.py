"""The configuration of the two-region embedded stack, rendered as `geoledger.toml` text.

The committed `geoledger.toml` is this template rendered with the default ports; tests render it
with private ports and state directories so they never collide with a running `make demo`.
"""

from __future__ import annotations

from pathlib import Path

from ledger.config import DevStackConfig

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

[wal]
# Segments are sealed at 16 MiB or at this age, whichever comes first, and only sealed segments
# ship: the age is the floor of replication lag (the RPO if this region's disk is lost). The cost
# of 0.25 s: while busy, up to four segments and four manifests per node per second in each ship
# target. An idle node seals nothing. Raise it to write fewer, larger objects.
max_segment_age_s = 0.25
# Sealed segments that every ship target holds and the node has applied are deleted locally
# once they are this old; the object stores keep them.
retain_shipped_s = 3600

[crr]
# How often a listing looks for new sealed segments or manifests while it waits for work.
poll_interval_s = 0.1

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
]
ship_targets = ["us", "eu"]
signing_key_file = "{state_dir}/keys/region-us.pem"
nodes = [{{ name = "n1", port = {us_port} }}]

[regions.us.object_store]
url = "s3://geoledger-us/ledger"
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
nodes = [{{ name = "n1", port = {eu_port} }}]

[regions.eu.object_store]
url = "gs://geoledger-eu/ledger"
endpoint_url = "http://127.0.0.1:{gcs_port}"

[tenants.acme]
hot_ttl_days = 7
warm_ttl_days = 90
"""

DEFAULT_US_INGEST_PORT = 8101
DEFAULT_EU_INGEST_PORT = 8201


def render_dev_config(
    dev: DevStackConfig,
    us_ingest_port: int = DEFAULT_US_INGEST_PORT,
    eu_ingest_port: int = DEFAULT_EU_INGEST_PORT,
) -> str:
    return _TEMPLATE.format(
        state_dir=Path(dev.state_dir).as_posix(),
        temporal_port=dev.temporal_port,
        temporal_ui_port=dev.temporal_ui_port,
        postgres_port=dev.postgres_port,
        s3_port=dev.s3_port,
        gcs_port=dev.gcs_port,
        us_port=us_ingest_port,
        eu_port=eu_ingest_port,
    )
