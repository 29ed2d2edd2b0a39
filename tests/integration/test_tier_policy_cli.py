"""`geoledger tier policy show | set | unset` on the embedded stack's Postgres, in both regions'
control databases of their own."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner

from cli.tier import tier_app
from ledger.config import load_settings
from ledger.tier_policy import TierPolicyOverride
from storage.embedded.process import free_port
from storage.tiering.policy_store import set_fields
from tests.conftest import RunningStack
from tests.support.isolated import fresh_config_file

pytestmark = pytest.mark.timeout(120)

runner = CliRunner()
REGIONS = ["us", "eu"]


@pytest.fixture(scope="module")
async def config(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's configuration with every database renamed to fresh, migrated ones."""
    return await fresh_config_file(running_stack, tmp_path_factory.mktemp("tiercli"), "tiercli")


def tier(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(tier_app, ["policy", *args, "--config", str(config)])
    # Rich wraps long messages at the terminal width; compare them as one line.
    return result.exit_code, " ".join(result.output.split())


def shown(config: Path, tenant: str) -> dict[str, Any]:
    result = runner.invoke(
        tier_app, ["policy", "show", "--tenant", tenant, "--json", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    regions: dict[str, Any] = json.loads(result.output)["regions"]
    assert set(regions) == set(REGIONS)
    return regions


def test_set_then_show_in_both_regions(config: Path) -> None:
    code, output = tier(
        config,
        "set",
        "--tenant",
        "acme",
        "--hot-ttl-days",
        "3",
        "--warm-ttl-days",
        "30",
        "--compression",
        "--level",
        "9",
        "--dictionary",
        "--cold-class",
        "s3=GLACIER_IR",
        "--cold-class",
        "gcs=COLDLINE",
        "--no-promote-on-read",
        "--legal-hold-days",
        "365",
    )
    assert code == 0, output

    for region in shown(config, "acme").values():
        policy, sources = region["policy"], region["sources"]
        assert policy["hot_ttl_days"] == 3 and policy["warm_ttl_days"] == 30
        assert policy["compression"] and policy["dictionary"]
        assert policy["compression_level"] == 9
        assert (policy["cold_class_s3"], policy["cold_class_gcs"]) == ("GLACIER_IR", "COLDLINE")
        assert policy["promote_on_read"] is False and policy["legal_hold_days"] == 365
        assert sources["hot_ttl_days"] == "override" and sources["legal_hold"] == "default"
        assert set(region["override"]) == {
            "hot_ttl_days",
            "warm_ttl_days",
            "compression",
            "compression_level",
            "dictionary",
            "cold_class_s3",
            "cold_class_gcs",
            "promote_on_read",
            "legal_hold_days",
        }

    code, output = tier(config, "show", "--tenant", "acme")
    assert code == 0 and "tier policy of tenant acme" in output and "control db" in output


def test_set_keeps_other_overridden_fields(config: Path) -> None:
    assert tier(config, "set", "--tenant", "globex", "--retention-days", "400")[0] == 0
    assert tier(config, "set", "--tenant", "globex", "--legal-hold")[0] == 0
    for region in shown(config, "globex").values():
        assert region["override"] == {"retention_days": 400, "legal_hold": True}


def test_unset_takes_fields_from_the_file_again(config: Path) -> None:
    code, output = tier(
        config, "set", "--tenant", "acme", "--hot-ttl-days", "1", "--warm-ttl-days", "10"
    )
    assert code == 0, output

    code, output = tier(config, "unset", "hot-ttl-days", "warm_ttl_days", "--tenant", "acme")
    assert code == 0, output

    for region in shown(config, "acme").values():
        # geoledger.toml's [tenants.acme] sets both.
        assert (region["policy"]["hot_ttl_days"], region["policy"]["warm_ttl_days"]) == (7, 90)
        assert region["sources"]["hot_ttl_days"] == region["sources"]["warm_ttl_days"] == "config"
        assert "hot_ttl_days" not in region["override"]


def test_unsetting_every_field_leaves_no_override(config: Path) -> None:
    assert tier(config, "set", "--tenant", "initech", "--level", "5")[0] == 0
    assert tier(config, "unset", "compression_level", "--tenant", "initech")[0] == 0
    for region in shown(config, "initech").values():
        assert region["override"] == {}
        assert set(region["sources"].values()) == {"default"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["set", "--warm-ttl-days", "1"],
            "warm_ttl_days (1) is shorter than hot_ttl_days (2)",
        ),
        (
            ["set", "--legal-hold-days", "2555", "--retention-days", "365"],
            "retention_days (365) is shorter than the tenant's legal hold (legal_hold_days 2555)",
        ),
        (["set", "--retention-days", "100"], "retention_days (100) is shorter than the tenant's"),
        (["set", "--cold-class", "s3=ARCHIVE"], "cold_class_s3: unknown S3 storage class"),
        (["set", "--cold-class", "azure=HOT"], "--cold-class: expected KIND=CLASS"),
        (["set", "--dictionary"], "dictionary: a dictionary only applies to compressed bodies"),
        (["set", "--level", "40"], "compression_level: expected a zstd level 1-22, got 40"),
        (["set"], "nothing to set"),
        (["unset", "hot_ttl"], "unknown policy field 'hot_ttl'"),
        # The hold below is stored; dropping it alone would leave warm (5) under hot (7).
        (["unset", "hot_ttl_days"], "warm_ttl_days (5) is shorter than hot_ttl_days (7)"),
    ],
)
def test_an_invalid_change_exits_2_and_changes_nothing_in_either_region(
    config: Path, args: list[str], message: str
) -> None:
    tenant = f"hooli-{uuid.uuid4().hex[:6]}"
    code, output = tier(
        config,
        "set",
        "--tenant",
        tenant,
        "--hot-ttl-days",
        "2",
        "--warm-ttl-days",
        "5",
        "--legal-hold-days",
        "200",
    )
    assert code == 0, output
    before = shown(config, tenant)

    code, output = tier(config, *args, "--tenant", tenant)

    assert code == 2, output
    assert message in output
    assert shown(config, tenant) == before


def test_a_change_invalid_in_one_region_is_written_in_none(config: Path) -> None:
    settings = load_settings(config)

    async def override_eu_only() -> None:
        conn = await asyncpg.connect(settings.regions["eu"].control_dsn)
        try:
            await set_fields(conn, "umbrella", TierPolicyOverride(hot_ttl_days=60))
        finally:
            await conn.close()

    asyncio.run(override_eu_only())
    before = shown(config, "umbrella")

    code, output = tier(config, "set", "--tenant", "umbrella", "--warm-ttl-days", "30")

    assert code == 2, output
    assert "in eu: warm_ttl_days (30) is shorter than hot_ttl_days (60)" in output
    assert shown(config, "umbrella") == before
    assert before["us"]["override"] == {}


def test_a_bad_tenant_is_bad_input(config: Path) -> None:
    code, output = tier(config, "set", "--tenant", "Not Valid", "--level", "4")
    assert code == 2 and "tenant:" in output


def test_an_unreachable_control_database_exits_3(config: Path, tmp_path: Path) -> None:
    text = config.read_text()
    port = text.split("postgresql://postgres@127.0.0.1:")[1].split("/")[0]
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{free_port()}/"))

    code, output = tier(broken, "show", "--tenant", "acme")

    assert code == 3
    assert "tier policies unavailable in ['eu', 'us']" in output
