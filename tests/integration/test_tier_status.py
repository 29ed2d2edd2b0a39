"""`geoledger tier status --json` and the tier sampler's gauges on the embedded stack: rows made
warm and cold by hand (real codec blobs; a cold row needs only its location), counted per tenant,
tier and region, with the policy, cost and demotion schedule beside them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from activities.region_resources import RegionResources
from cli.tier import tier_app
from ledger.config import Settings, load_settings
from storage.dedup import DedupStore
from storage.tiering.codec import encode
from storage.tiering.stats import DAY_MS
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import record
from tests.support.isolated import fresh_config_file
from workers.client import connect
from workers.tier_sampler import TierSampler
from workers.tier_schedule import ensure_tier_schedule
from workflows import queues
from workflows.demotion import demotion_workflow_id

pytestmark = pytest.mark.timeout(120)

runner = CliRunner()
BODY = "ledger line " * 100  # compresses well: warm and cold blobs are zstd frames
PACK_ID = "0123456789abcdef0123456789abcdef"
WARM = (
    "UPDATE dedup_events SET body_tier = 1, event = NULL, warm_body = $3 "
    "WHERE tenant_id = $1 AND event_id = $2"
)
COLD = (
    "UPDATE dedup_events SET body_tier = 2, event = NULL, cold_pack_id = $3, cold_offset = 0, "
    "cold_length = $4, cold_sha256 = $5 WHERE tenant_id = $1 AND event_id = $2"
)


@pytest.fixture(scope="module")
async def config(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return await fresh_config_file(running_stack, tmp_path_factory.mktemp("tierstat"), "tierstat")


@pytest.fixture(scope="module")
def settings(config: Path) -> Settings:
    return load_settings(config)


async def put_rows(
    settings: Settings, region: str, tenant: str, now_ms: int | None = None
) -> dict[str, int]:
    """Three hot rows (one 10 days old at `now_ms`, the wall clock by default: 3 days past the hot
    TTL of 7), two warm, one cold; the stored bytes of each tier."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    days = {"h1": 1, "h2": 2, "h3": 10, "w1": 20, "w2": 30, "c1": 200}
    records = [
        record(e, hlc=i + 1, seq=i + 1, content=BODY, tenant_id=tenant,
               accepted_at_ms=now_ms - days[e] * DAY_MS)
        for i, e in enumerate(days)
    ]  # fmt: skip
    async with await DedupStore.open(settings.region(region)) as store:
        await store.apply(records)
    stored = {"hot": sum(len(r.event) for r in records[:3]), "warm": 0, "cold": 0}
    for shard_dsn in settings.region(region).shard_dsns:
        conn = await asyncpg.connect(shard_dsn)
        try:
            for r in records[3:]:
                blob = encode(r.event, 3, None).blob
                if r.event_id.startswith("w"):
                    done = await conn.execute(WARM, tenant, r.event_id, blob)
                    stored["warm"] += len(blob) if done.endswith("1") else 0
                else:
                    sha = hashlib.sha256(blob).digest()
                    done = await conn.execute(COLD, tenant, r.event_id, PACK_ID, len(blob), sha)
                    stored["cold"] += len(blob) if done.endswith("1") else 0
        finally:
            await conn.close()
    return stored


def status_json(config: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(tier_app, ["status", *args, "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def test_status_counts_each_tier_per_region(settings: Settings, config: Path) -> None:
    # Synchronous: the command runs its own event loop, as from a shell.
    tenant = f"ts-{uuid.uuid4().hex[:8]}"
    stored = asyncio.run(put_rows(settings, "us", tenant))

    shown = status_json(config, "--tenant", tenant)["tenants"][tenant]

    us, eu = shown["regions"]["us"], shown["regions"]["eu"]
    assert {t: v["entries"] for t, v in us["tiers"].items()} == {"hot": 3, "warm": 2, "cold": 1}
    assert {t: v["bytes"] for t, v in us["tiers"].items()} == stored
    assert stored["warm"] < len(BODY)  # real zstd frames, not raw bodies
    assert us["compression_ratio"] == pytest.approx(
        (stored["hot"] / 3) / ((stored["warm"] + stored["cold"]) / 3)
    )
    assert us["demotion_lag_s"] == pytest.approx(3 * 86_400, abs=120)
    assert us["policy"]["hot_ttl_days"] == 7
    # us keeps cold packs on S3: STANDARD at the example price; eu has no body of the tenant.
    prices = settings.tier_status.prices
    expected = (
        (stored["hot"] * prices.hot + stored["warm"] * prices.warm)
        + stored["cold"] * prices.s3["STANDARD"]
    ) / 1024**3
    assert us["monthly_cost_usd"] == pytest.approx(expected, abs=1e-6)
    assert {t: v["entries"] for t, v in eu["tiers"].items()} == {"hot": 0, "warm": 0, "cold": 0}
    assert shown["schedule"] == {
        "id": f"tier-demote-{tenant}",
        "exists": False,
        "paused": False,
        "interval_s": None,
        "next_run": None,
        "last_run": None,
    }


def test_status_describes_the_tenants_schedule(settings: Settings, config: Path) -> None:
    tenant = f"ts-{uuid.uuid4().hex[:8]}"
    schedule_id = asyncio.run(create_paused_schedule(settings, tenant))
    try:
        schedule = status_json(config, "--tenant", tenant)["tenants"][tenant]["schedule"]
    finally:
        asyncio.run(delete_schedule(settings, schedule_id))

    assert schedule["exists"] and schedule["paused"]
    assert schedule["interval_s"] == 3600
    assert schedule["last_run"] is None


async def create_paused_schedule(settings: Settings, tenant: str) -> str:
    """The tenant's schedule as `geoledger tier schedule` makes it, paused: it never runs."""
    client = await connect(settings)
    await ensure_tier_schedule(client, tenant, timedelta(hours=1), 0, queues.TIERING)
    schedule_id = demotion_workflow_id(tenant)
    await client.get_schedule_handle(schedule_id).pause(note="test")
    return schedule_id


async def delete_schedule(settings: Settings, schedule_id: str) -> None:
    client = await connect(settings)
    await client.get_schedule_handle(schedule_id).delete()


async def test_sampler_exports_the_gauges(settings: Settings) -> None:
    tenant = f"ts-{uuid.uuid4().hex[:8]}"
    now_ms = int(time.time() * 1000)
    stored = await put_rows(settings, "eu", tenant, now_ms)
    resources = RegionResources(settings)
    try:
        await TierSampler(settings, resources).sample_region("eu", now_ms)
    finally:
        await resources.close()

    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"region": "eu", "tenant": tenant, **labels})

    assert sample("tier_entries", tier="warm") == 2
    assert sample("tier_bytes", tier="cold") == stored["cold"]
    assert sample("tier_demotion_lag_seconds") == pytest.approx(3 * 86_400)
    assert sample("tier_compression_ratio") > 1  # type: ignore[operator]
