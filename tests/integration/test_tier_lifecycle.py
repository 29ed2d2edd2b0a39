"""`geoledger tier lifecycle plan | apply` on the embedded stack: region `us` on a fresh moto S3
bucket, region `eu` on a fresh fake-gcs-server bucket, each region with control databases of its
own.

S3 (moto stores lifecycle configurations): plan shows the diff, apply writes it, plan again finds
nothing, and the rules that are not ours (shipped WAL, another prefix) are still there unchanged.

GCS: fake-gcs-server answers a bucket PATCH of `lifecycle` with 200 and stores nothing, so no
rule can be read back from it. The first test asserts exactly that (it fails the day fake-gcs
stores rules: then test the GCS round trip like the S3 one); the GCS writer is tested up to the
PATCH request it sends, and apply's read-back check is shown to catch a bucket that dropped them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import pytest
import requests
from typer.testing import CliRunner

from cli.tier import tier_app
from ledger.config import RegionConfig, Settings
from ledger.tier_config import TenantPolicy
from ledger.tier_policy import TierPolicy, TierPolicyOverride
from storage.objectstore import open_object_store
from storage.objectstore.base import TransportPolicy
from storage.objectstore.gcs_client import open_gcs_client
from storage.objectstore.lifecycle_gcs import GcsBucketLifecycle, bucket_rule
from storage.tiering.policy_store import set_fields
from tests.conftest import RunningStack
from tests.integration.objectstore_support import unique_bucket
from tests.support.isolated import isolated_settings, settings_env
from workers.tier_lifecycle import LifecycleCheckError, apply_regions, plan_regions

pytestmark = pytest.mark.timeout(120)

runner = CliRunner()
PREFIX = "ledger"
# Rules that are not ours: shipped WAL (the configuration has no retention for it) and another
# application's prefix in the same bucket.
FOREIGN_S3: list[dict[str, Any]] = [
    {
        "ID": "operator wal",
        "Filter": {"Prefix": f"{PREFIX}/wal/"},
        "Status": "Enabled",
        "Expiration": {"Days": 3650},
    },
    {
        "ID": "someone else",
        "Filter": {"Prefix": "other-app/"},
        "Status": "Enabled",
        "Transitions": [{"Days": 10, "StorageClass": "GLACIER"}],
    },
]
# A leftover of ours: a tenant nobody configures any more and who has no packs.
STALE_S3 = {
    "ID": "geoledger delete ledger/tiering/packs/gone/",
    "Filter": {"Prefix": f"{PREFIX}/tiering/packs/gone/"},
    "Status": "Enabled",
    "Expiration": {"Days": 1},
}


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Both regions on fresh buckets and databases. The defaults move packs to GLACIER_IR /
    NEARLINE; acme deletes after 400 days in DEEP_ARCHIVE / COLDLINE; beta's override in `us`
    deletes after 30 days; gamma is configured nowhere but has a pack in each store."""
    isolated = await isolated_settings(running_stack, tmp_path_factory.mktemp("lifecycle"), "lc")
    s3_bucket, gcs_bucket = unique_bucket("lc-s3"), unique_bucket("lc-gcs")
    running_stack.stack.s3.ensure_buckets([s3_bucket])
    running_stack.stack.gcs.ensure_buckets([gcs_bucket])
    regions = {
        "us": on_store(isolated.regions["us"], url=f"s3://{s3_bucket}/{PREFIX}"),
        "eu": on_store(isolated.regions["eu"], url=f"gs://{gcs_bucket}/{PREFIX}"),
    }
    settings = isolated.model_copy(
        update={
            "regions": regions,
            "tiering": TierPolicy(cold_class_s3="GLACIER_IR", cold_class_gcs="NEARLINE"),
            "tenants": {
                "acme": TenantPolicy(
                    cold_class_s3="DEEP_ARCHIVE", cold_class_gcs="COLDLINE", retention_days=400
                )
            },
        }
    )
    conn = await asyncpg.connect(regions["us"].control_dsn)
    try:
        await set_fields(conn, "beta", TierPolicyOverride(retention_days=30))
    finally:
        await conn.close()
    for region in regions.values():
        await open_object_store(region.object_store).put("tiering/packs/gamma/p1.pack", b"pack")
    return settings


def on_store(region: RegionConfig, **changes: str) -> RegionConfig:
    """`region` with these object store fields changed."""
    return region.model_copy(
        update={"object_store": region.object_store.model_copy(update=changes)}
    )


@pytest.fixture
def s3_client(settings: Settings) -> Any:
    return boto3.client(
        "s3", endpoint_url=settings.regions["us"].object_store.endpoint_url, region_name="us-east-1"
    )


def lifecycle(
    settings: Settings, tmp_path: Path, *args: str, json_output: bool = True
) -> tuple[int, Any]:
    """Run `geoledger tier lifecycle ... [--json]` on `settings`; its exit code and its output
    (parsed when it is JSON)."""
    config = tmp_path / "geoledger.toml"
    config.write_text("")
    env = settings_env(settings, config)
    env["GEOLEDGER_TIERING"] = settings.tiering.model_dump_json()
    env["GEOLEDGER_TENANTS"] = json.dumps(
        {name: section.fields() for name, section in settings.tenants.items()}
    )
    flags = ["--json"] if json_output else []
    result = runner.invoke(tier_app, ["lifecycle", *args, *flags], env=env)
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.exit_code, result.output


def changes(output: Any, region: str) -> list[tuple[str, str, str, str]]:
    return [
        (e["change"], e["prefix"], e["action"], e["planned"])
        for e in output["regions"][region]["entries"]
    ]


def test_s3_plan_apply_plan_again_keeps_foreign_rules(
    settings: Settings, s3_client: Any, tmp_path: Path
) -> None:
    bucket = settings.regions["us"].object_store.bucket
    s3_client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*FOREIGN_S3, STALE_S3]}
    )
    packs = f"{PREFIX}/tiering/packs"
    expected = [
        ("add", f"{packs}/acme/", "delete", "delete after 400 d"),
        ("add", f"{packs}/acme/", "transition", "transition to DEEP_ARCHIVE after 0 d"),
        ("add", f"{packs}/beta/", "delete", "delete after 30 d"),
        ("add", f"{packs}/beta/", "transition", "transition to GLACIER_IR after 0 d"),
        ("add", f"{packs}/gamma/", "transition", "transition to GLACIER_IR after 0 d"),
        ("remove", f"{packs}/gone/", "delete", "-"),
        ("not ours", f"{PREFIX}/wal/", "delete", "kept as is"),
        ("not ours", "other-app/", "transition", "kept as is"),
    ]

    code, planned = lifecycle(settings, tmp_path, "plan", "--region", "us", "--exit-code")
    assert (code, changes(planned, "us")) == (1, expected)

    code, applied = lifecycle(settings, tmp_path, "apply", "--region", "us")
    assert (code, changes(applied, "us")) == (0, expected)

    code, again = lifecycle(settings, tmp_path, "plan", "--region", "us", "--exit-code")
    assert code == 0, again
    assert {c for c, *_ in changes(again, "us")} == {"keep", "not ours"}
    code, table = lifecycle(settings, tmp_path, "plan", "--region", "us", json_output=False)
    assert (code, " ".join(table.split()).count("keep")) == (0, 5), table
    assert "us: nothing to change" in table
    rules = s3_client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [rule for rule in rules if rule["ID"] in ("operator wal", "someone else")] == FOREIGN_S3
    assert len(rules) == len(FOREIGN_S3) + 5


def test_unknown_region_is_invalid_input(settings: Settings, tmp_path: Path) -> None:
    code, output = lifecycle(settings, tmp_path, "plan", "--region", "mars")
    assert code == 2, output


def test_unreachable_store_exits_3(settings: Settings, tmp_path: Path) -> None:
    dead = on_store(settings.regions["us"], endpoint_url="http://127.0.0.1:9")
    unreachable = settings.model_copy(update={"regions": {**settings.regions, "us": dead}})
    code, output = lifecycle(unreachable, tmp_path, "plan", "--region", "us")
    assert code == 3, output


# --- GCS on fake-gcs-server -------------------------------------------------------------------


@pytest.fixture
def gcs_requests(
    settings: Settings,
) -> Iterator[tuple[GcsBucketLifecycle, list[requests.Response]]]:
    """The eu bucket's lifecycle backend and every HTTP answer its client gets (each carrying
    the request that was sent)."""
    store = settings.regions["eu"].object_store
    backend = GcsBucketLifecycle(
        store.bucket, endpoint_url=store.endpoint_url, transport=TransportPolicy()
    )
    answers: list[requests.Response] = []
    # The client's own session (a requests.Session): its response hook sees each real exchange.
    backend._client._http.hooks["response"].append(lambda answer, **_: answers.append(answer))
    yield backend, answers


async def test_fake_gcs_does_not_store_lifecycle_rules(settings: Settings) -> None:
    store = settings.regions["eu"].object_store
    client = open_gcs_client(store.url, store.endpoint_url)
    probe = unique_bucket("lc-probe")
    client.create_bucket(probe)
    bucket = client.bucket(probe)
    bucket.lifecycle_rules = [
        {"action": {"type": "Delete"}, "condition": {"age": 5, "matchesPrefix": ["x/"]}}
    ]
    bucket.patch()  # accepted: no error
    stored = client.get_bucket(probe)._properties
    assert "lifecycle" not in stored, (
        "fake-gcs-server now stores lifecycle rules: test the GCS plan/apply round trip for real, "
        "as the S3 one"
    )


async def test_gcs_plan_reads_the_bucket_and_derives_gcs_classes(settings: Settings) -> None:
    [eu] = await plan_regions(settings, ["eu"])
    assert eu.plan is not None
    packs = f"{PREFIX}/tiering/packs"
    assert [(e.change, e.prefix, e.action, e.planned) for e in eu.plan.entries] == [
        ("add", f"{packs}/acme/", "delete", "delete after 400 d"),
        ("add", f"{packs}/acme/", "transition", "transition to COLDLINE after 0 d"),
        # beta's override is in `us` only: here it has the defaults.
        ("add", f"{packs}/gamma/", "transition", "transition to NEARLINE after 0 d"),
    ]


async def test_gcs_writer_sends_every_rule_in_one_patch(
    settings: Settings, gcs_requests: tuple[GcsBucketLifecycle, list[requests.Response]]
) -> None:
    backend, answers = gcs_requests
    [eu] = await plan_regions(settings, ["eu"])
    assert eu.plan is not None
    foreign = {"action": {"type": "Delete"}, "condition": {"age": 9, "matchesPrefix": ["other/"]}}
    # A rule that is not ours, as it would have been read from a bucket that stores rules.
    await backend.write_rules([bucket_rule(foreign), *eu.plan.kept], eu.plan.rules)

    [patch] = [a.request for a in answers if a.request.method == "PATCH"]
    assert patch.url.split("?")[0].endswith(f"/storage/v1/b/{backend.describe()[5:]}")
    body = json.loads(patch.body or b"{}")
    packs = f"{PREFIX}/tiering/packs"
    assert body == {
        "lifecycle": {
            "rule": [
                foreign,
                {
                    "action": {"type": "Delete"},
                    "condition": {"age": 400, "matchesPrefix": [f"{packs}/acme/"]},
                },
                {
                    "action": {"type": "SetStorageClass", "storageClass": "COLDLINE"},
                    "condition": {"age": 0, "matchesPrefix": [f"{packs}/acme/"]},
                },
                {
                    "action": {"type": "SetStorageClass", "storageClass": "NEARLINE"},
                    "condition": {"age": 0, "matchesPrefix": [f"{packs}/gamma/"]},
                },
            ]
        }
    }


async def test_gcs_apply_check_catches_a_bucket_that_dropped_the_rules(settings: Settings) -> None:
    # fake-gcs accepts the PATCH and keeps nothing (see the probe above): the read-back check
    # must say so instead of reporting success.
    with pytest.raises(LifecycleCheckError, match="expected the rules just written"):
        await apply_regions(settings, ["eu"])
