"""`geoledger tier train-dict` and `geoledger tier dicts` on the embedded stack, in region us
(S3) and eu (GCS): a dictionary trained from real signed events becomes the tenant's current
one, demotion compresses with it, a second training makes a newer one current while bodies of
the first still read back byte-identical from warm and cold, the list counts the bodies that
need each, and too small a sample is refused without changing anything."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment
from typer.testing import CliRunner

from activities.region_resources import RegionResources
from activities.tiering import TieringActivities
from activities.tiering_models import DemoteBatchInput, DemotionStep
from cli.tier import tier_app
from ledger.config import Settings, load_settings
from ledger.event_wire import parse_signed_event
from ledger.signing import content_digest
from ledger.tier_policy import build_override
from storage.dedup import DedupRecord, DedupStore
from storage.objectstore import open_object_store
from storage.tiering.demote import DAY_MS
from storage.tiering.demotion_rows import START
from storage.tiering.policy_store import set_fields
from storage.tiering.reader import TierReadOptions
from tests.conftest import RunningStack
from tests.support.isolated import fresh_config_file
from tests.support.tenants import TestTenant as Owner
from tests.support.tenants import tenant

pytestmark = pytest.mark.timeout(240)

runner = CliRunner()
NOW_MS = int(time.time() * 1000)
BODIES_PER_ROUND = 150  # over [tier_dictionaries] min_sample_bodies (100)


@pytest.fixture(scope="module")
async def config(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return await fresh_config_file(running_stack, tmp_path_factory.mktemp("tierdict"), "tierdict")


@pytest.fixture(scope="module")
def settings(config: Path) -> Settings:
    return load_settings(config)


def signed_records(owner: Owner, prefix: str, count: int) -> list[DedupRecord]:
    """Real signed events of `owner`, accepted 10 days ago (past the default hot TTL of 7)."""
    records = []
    for i in range(count):
        payload = {"order": f"{prefix}-{i}", "sku": f"sku-{i % 7}", "qty": i % 5, "note": "paid"}
        signed = parse_signed_event(owner.event(f"{prefix}-{i:04d}", payload))
        records.append(
            DedupRecord(
                tenant_id=owner.tenant_id,
                event_id=signed.event_id,
                hlc=i + 1,
                region="us",
                node="n1",
                seq=i + 1,
                digest=content_digest(signed),
                event=signed.canonical_event(),
                accepted_at_ms=NOW_MS - 10 * DAY_MS,
            )
        )
    return records


async def apply(settings: Settings, region: str, records: list[DedupRecord]) -> None:
    async with await DedupStore.open(settings.region(region)) as store:
        await store.apply(records)


async def use_dictionary(settings: Settings, region: str, tenant_id: str) -> None:
    fields = {"compression": True, "dictionary": True, "promote_on_read": False}
    async with await DedupStore.open(settings.region(region)) as store:
        await set_fields(store.pools.control, tenant_id, build_override(fields))


async def demote(settings: Settings, region: str, tenant_id: str, step: DemotionStep) -> int:
    """Run the demotion activity over every shard of `region` until nothing is left; the bodies
    moved. Cold counts TTLs 100 days ahead (past the default warm TTL of 90)."""
    as_of_ms = NOW_MS + (100 * DAY_MS if step is DemotionStep.COLD else 0)
    resources = RegionResources(settings)
    activities = TieringActivities(settings, resources)
    moved = 0
    try:
        for shard in range(len(settings.region(region).shard_dsns)):
            after: str | None = START
            while after is not None:
                request = DemoteBatchInput(
                    tenant=tenant_id,
                    region=region,
                    shard=shard,
                    step=step,
                    after=after,
                    as_of_ms=as_of_ms,
                )
                result = await ActivityEnvironment().run(activities.demote_batch, request)
                moved += result.moved
                after = result.next_after
    finally:
        await resources.close()
    return moved


async def read_all(settings: Settings, region: str, records: list[DedupRecord]) -> list[bytes]:
    options = TierReadOptions.from_settings(settings)
    async with await DedupStore.open(settings.region(region), tiering=options) as store:
        found = [await store.get_event(r.tenant_id, r.event_id) for r in records]
    return [b"" if stored is None else stored.event for stored in found]


def cli_json(config: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(tier_app, [*args, "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def in_region(listed: dict[str, Any], region: str) -> dict[str, dict[str, Any]]:
    return {d["dict_id"]: d for d in listed["regions"][region]}


@pytest.mark.parametrize("region", ["us", "eu"])
def test_trained_dictionaries_compress_demotion_and_stay_readable(
    settings: Settings, config: Path, region: str
) -> None:
    # Synchronous: the commands run their own event loops, as from a shell.
    owner = tenant(f"td-{uuid.uuid4().hex[:8]}")
    first = signed_records(owner, "a", BODIES_PER_ROUND)
    asyncio.run(apply(settings, region, first))
    asyncio.run(use_dictionary(settings, region, owner.tenant_id))

    one = cli_json(config, "train-dict", "--tenant", owner.tenant_id, "--region", region)
    trained_a = one["regions"][region]
    assert list(one["regions"]) == [region]  # --region trains that region only
    assert trained_a["version"] == 1 and trained_a["stored"]
    assert trained_a["sample_bodies"] == BODIES_PER_ROUND
    assert trained_a["ratio_dict"] > trained_a["ratio_zstd"] > 1
    dict_a = trained_a["dict_id"]
    assert asyncio.run(demote(settings, region, owner.tenant_id, DemotionStep.WARM)) == 150

    second = signed_records(owner, "b", BODIES_PER_ROUND)
    asyncio.run(apply(settings, region, second))
    two = cli_json(config, "train-dict", "--tenant", owner.tenant_id, "--region", region)
    dict_b = two["regions"][region]["dict_id"]
    assert dict_b != dict_a and two["regions"][region]["version"] == 2
    assert asyncio.run(demote(settings, region, owner.tenant_id, DemotionStep.WARM)) == 150

    listed = in_region(cli_json(config, "dicts", "--tenant", owner.tenant_id), region)
    assert {i: (d["current"], d["warm_bodies"], d["cold_bodies"]) for i, d in listed.items()} == {
        dict_a: (False, 150, 0),
        dict_b: (True, 150, 0),
    }
    every = first + second
    assert asyncio.run(read_all(settings, region, every)) == [r.event for r in every]

    assert asyncio.run(demote(settings, region, owner.tenant_id, DemotionStep.COLD)) == 300
    listed = in_region(cli_json(config, "dicts", "--tenant", owner.tenant_id), region)
    assert {i: (d["warm_bodies"], d["cold_bodies"]) for i, d in listed.items()} == {
        dict_a: (0, 150),
        dict_b: (0, 150),
    }
    assert asyncio.run(read_all(settings, region, every)) == [r.event for r in every]
    other = "eu" if region == "us" else "us"
    assert cli_json(config, "dicts", "--tenant", owner.tenant_id)["regions"][other] == []


@pytest.mark.parametrize("region", ["us", "eu"])
def test_too_small_a_sample_is_refused_and_changes_nothing(
    settings: Settings, config: Path, region: str
) -> None:
    owner = tenant(f"tx-{uuid.uuid4().hex[:8]}")
    asyncio.run(apply(settings, region, signed_records(owner, "s", 20)))

    args = ["train-dict", "--tenant", owner.tenant_id, "--region", region, "--config", str(config)]
    result = runner.invoke(tier_app, args)

    assert result.exit_code == 2, result.output
    assert "nothing changed" in result.output and "20 bodies" in result.output
    assert cli_json(config, "dicts", "--tenant", owner.tenant_id)["regions"][region] == []
    store = open_object_store(settings.region(region).object_store)
    assert asyncio.run(_listed(store, f"tiering/dicts/{owner.tenant_id}/")) == []


async def _listed(store: Any, prefix: str) -> list[Any]:
    return [entry async for entry in store.list(prefix)]
