"""The configuration model: defaults, environment overrides, one error listing every bad field."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from ledger.config import (
    CrrConfig,
    DevStackConfig,
    TierDemotionConfig,
    TierDictionaryConfig,
    TierStatusConfig,
    WalConfig,
    load_settings,
)
from ledger.deployment_config import DeploymentConfig
from ledger.errors import ConfigError
from ledger.limits_config import LimitsConfig
from ledger.logging_config import LoggingConfig
from ledger.migrate_config import MigrateConfig
from ledger.tier_policy import TierPolicy, merge_policy
from ledger.tier_prices import TierPrices
from ledger.tracing_config import TracingConfig
from storage.embedded.config_template import render_dev_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_committed_config_is_the_rendered_default() -> None:
    # The committed file is what `render_dev_config` makes of the defaults; drift is a bug.
    assert (REPO_ROOT / "geoledger.toml").read_text() == render_dev_config(DevStackConfig())


def test_committed_config_shows_every_wal_and_crr_setting() -> None:
    # An operator learns what can be tuned from the file: no setting of these sections is hidden.
    shown = tomllib.loads((REPO_ROOT / "geoledger.toml").read_text())
    assert set(shown["wal"]) == set(WalConfig.model_fields)
    assert set(shown["crr"]) == set(CrrConfig.model_fields)
    assert set(shown["tier_demotion"]) == set(TierDemotionConfig.model_fields)
    assert set(shown["tier_dictionaries"]) == set(TierDictionaryConfig.model_fields)
    assert set(shown["migrate"]) == set(MigrateConfig.model_fields)
    # Per-tenant overrides are shown as a commented example.
    assert set(shown["limits"]) == set(LimitsConfig.model_fields) - {"tenants"}
    assert set(shown["tracing"]) == set(TracingConfig.model_fields)
    assert set(shown["logging"]) == set(LoggingConfig.model_fields)
    # Canary policies are shown as a commented example.
    assert set(shown["deployment"]) == set(DeploymentConfig.model_fields) - {"policies"}


def test_committed_config_shows_every_tier_status_setting_and_price() -> None:
    shown = tomllib.loads((REPO_ROOT / "geoledger.toml").read_text())["tier_status"]
    assert set(shown) == set(TierStatusConfig.model_fields)
    assert set(shown["prices"]) == set(TierPrices.model_fields)
    assert TierStatusConfig(**shown) == TierStatusConfig()


def test_committed_config_shows_every_tiering_default() -> None:
    # Fields whose default is "none" (TOML has no null) are shown commented out.
    text = (REPO_ROOT / "geoledger.toml").read_text()
    section = text.split("\n[tiering]\n")[1].split("\n[")[0]
    assert set(re.findall(r"^(?:# )?(\w+) =", section, re.MULTILINE)) == set(
        TierPolicy.model_fields
    )
    assert TierPolicy(**tomllib.loads(text)["tiering"]) == TierPolicy()


def test_a_tenant_section_overrides_the_tiering_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "geoledger.toml"
    path.write_text(render_dev_config(DevStackConfig()) + "retention_days = 400\n")
    monkeypatch.setenv("GEOLEDGER_TIERING__HOT_TTL_DAYS", "2")
    settings = load_settings(path)

    policy, _ = merge_policy(settings.tiering, settings.tenants["acme"])

    assert (policy.hot_ttl_days, policy.warm_ttl_days, policy.retention_days) == (7, 90, 400)
    assert merge_policy(settings.tiering)[0].hot_ttl_days == 2


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("[tenants.acme]\nwarm_ttl_days = 3", r"tenants\.acme: warm_ttl_days \(3\) is shorter"),
        ("[tenants.acme]\ncold_class_gcs = 'DEEP_ARCHIVE'", "unknown GCS storage class"),
        ("[tenants.Acme]", "tenants.Acme: expected"),
        ("[tenants.acme]\nhot_ttl = 1", r"tenants\.acme\.hot_ttl: Extra inputs"),
    ],
)
def test_an_invalid_tenant_section_is_a_config_error(
    tmp_path: Path, section: str, message: str
) -> None:
    text = render_dev_config(DevStackConfig()).split("[tenants.acme]")[0] + section + "\n"
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(bad)


def test_settings_frozen_into_workflow_inputs_are_marked() -> None:
    # workers/crr_control.py reads crr settings only to build the CRR workflows' inputs, where
    # they stay until `crr start --restart`; the file lists exactly those below its marker.
    control = (REPO_ROOT / "workers" / "crr_control.py").read_text()
    frozen = set(re.findall(r"settings\.crr\.(\w+)", control))
    crr = (REPO_ROOT / "geoledger.toml").read_text().split("\n[crr]\n")[1].split("\n[")[0]
    after_marker = crr.split("# Frozen into each CRR workflow's input")[1]
    marked = set(re.findall(r"^(\w+) =", after_marker, re.MULTILINE))
    assert frozen and marked == frozen


def test_default_describes_us_on_s3_and_eu_on_gcs() -> None:
    settings = load_settings(REPO_ROOT / "geoledger.toml")
    assert settings.regions["us"].object_store.scheme == "s3"
    assert settings.regions["eu"].object_store.scheme == "gs"
    assert settings.regions["us"].ship_targets == ["us", "eu"]
    assert settings.temporal.ui_url.endswith(":8233")


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOLEDGER_TEMPORAL__ADDRESS", "temporal.internal:7233")
    settings = load_settings(REPO_ROOT / "geoledger.toml")
    assert settings.temporal.address == "temporal.internal:7233"


def test_wal_segments_default_to_the_architecture_and_can_be_tuned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(REPO_ROOT / "geoledger.toml")
    wal, crr = settings.wal, settings.crr
    assert (wal.max_segment_age_s, wal.max_segment_bytes) == (0.25, 16 * 1024 * 1024)
    assert (wal.retain_shipped_s, crr.poll_interval_s) == (3600, 0.1)
    # The file spells out the model's defaults, so neither can drift from the other.
    assert (wal, crr) == (WalConfig(), CrrConfig())
    monkeypatch.setenv("GEOLEDGER_WAL__MAX_SEGMENT_AGE_S", "1")
    assert load_settings(REPO_ROOT / "geoledger.toml").wal.max_segment_age_s == 1.0
    monkeypatch.setenv("GEOLEDGER_WAL__MAX_SEGMENT_AGE_S", "0")
    with pytest.raises(ConfigError, match=r"wal\.max_segment_age_s"):
        load_settings(REPO_ROOT / "geoledger.toml")


def test_every_bad_field_is_listed_by_path(tmp_path: Path) -> None:
    text = render_dev_config(DevStackConfig())
    text = text.replace('url = "s3://geoledger-us/ledger"', 'url = "ftp://nowhere"')
    text = text.replace("postgresql://postgres@127.0.0.1:15432/geoledger_eu_control", "mysql://x")
    text = text.replace('ship_targets = ["us", "eu"]', 'ship_targets = ["us", "eu"]\nbogus = 1')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(bad)
    message = str(caught.value)
    assert "3 invalid field(s)" in message
    assert "regions.us.object_store.url" in message
    assert "regions.eu.control_dsn" in message
    assert "regions.us.bogus" in message


def test_unknown_ship_target_is_named(tmp_path: Path) -> None:
    text = render_dev_config(DevStackConfig()).replace('["eu", "us"]', '["eu", "mars"]')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="unknown region 'mars'"):
        load_settings(bad)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


def test_a_route_lease_must_outlast_the_poll_interval() -> None:
    assert MigrateConfig(route_poll_s=0.5, route_lease_s=0.6).route_lease_s == 0.6
    with pytest.raises(ValueError, match=r"route_poll_s: expected less than route_lease_s"):
        MigrateConfig(route_poll_s=10, route_lease_s=10)
