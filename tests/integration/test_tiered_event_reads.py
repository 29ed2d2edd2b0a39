"""`GET /v1/events/...` and `geoledger events get` in every tier, on the real stack, in both
regions (`us` keeps cold packs on S3 under moto, `eu` on GCS under fake-gcs-server): a real signed
event accepted by the node, moved by hand to warm and to cold, reads back byte-identical through
the API and the CLI; it moves back to hot (tier_promotions_total) when its tenant's policy says
promote_on_read and stays where it is when not; a damaged warm blob and a damaged pack each answer
500 `body_unreadable` (API) and exit 1 naming the key and the store (CLI)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from api.ingest.app import create_app
from api.ingest.serve import open_node
from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.tier_policy import TierPolicyOverride
from storage.dedup import DedupRecord, DedupStore
from storage.objectstore import ObjectStore, open_object_store
from storage.tiering.packs import pack_key
from storage.tiering.policy_store import set_fields
from tests.conftest import RunningStack
from tests.integration.tiering_support import make_cold, make_warm, stored_record, tier_of
from tests.support import tenants
from tests.support.isolated import isolated_settings, settings_env
from tests.support.processes import CommandOutcome, run_geoledger
from tests.support.tenants import body, register, signed_read, tenant

pytestmark = pytest.mark.timeout(300)

COMMAND_TIMEOUT_S = 60.0
PROMOTING = tenant("promoting")  # the default policy: promote_on_read
STAYING = tenant("staying")  # overridden: promote_on_read false
REGIONS = ("us", "eu")


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path_factory.mktemp("tiered"), "tiered")
    await register(settings, PROMOTING, STAYING)
    for region in settings.regions.values():
        conn = await asyncpg.connect(region.control_dsn)
        try:
            await set_fields(conn, STAYING.tenant_id, TierPolicyOverride(promote_on_read=False))
        finally:
            await conn.close()
    return settings


@pytest.fixture(scope="module")
def env(settings: Settings, running_stack: RunningStack) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GEOLEDGER_")}
    return {**inherited, **settings_env(settings, running_stack.config_path), "COLUMNS": "500"}


class Region:
    """One region under test: its node's API, its dedup shards and its object store."""

    def __init__(self, name: str, http: httpx.AsyncClient, dedup: DedupStore, store: ObjectStore):
        self.name, self.http, self.dedup, self.store = name, http, dedup, store

    def shard(self, record: DedupRecord) -> Any:
        return self.shard_of(record.tenant_id, record.event_id)

    def shard_of(self, tenant_id: str, event_id: str) -> Any:
        return self.dedup.pools.shards[self.dedup.route.read_shard(tenant_id, event_id)]

    async def accept(
        self, owner: tenants.TestTenant, count: int
    ) -> list[tuple[dict[str, Any], DedupRecord]]:
        """`count` new events of `owner` accepted by the node, each with its stored row."""
        events = [owner.event(f"evt-{uuid.uuid4().hex[:10]}", {"n": n}) for n in range(count)]
        answer = await self.http.post("/v1/events", content=body(events))
        assert answer.status_code == 200, answer.text
        assert {r["status"] for r in answer.json()["results"]} == {"accepted"}
        accepted = []
        for event in events:
            shard = self.shard_of(owner.tenant_id, event["event_id"])
            accepted.append((event, await stored_record(shard, owner.tenant_id, event["event_id"])))
        return accepted


@pytest.fixture(scope="module", params=REGIONS)
async def region(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Region]:
    name = str(request.param)
    app = create_app(lambda: open_node(settings, name, "n1"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as http,
        await DedupStore.open(settings.region(name)) as dedup,
    ):
        yield Region(name, http, dedup, open_object_store(settings.region(name).object_store))


async def geoledger_get(env: dict[str, str], region: str, record: DedupRecord) -> CommandOutcome:
    return await run_geoledger(
        env,
        *("events", "get", record.tenant_id, record.event_id, "--region", region, "--json"),
        timeout_s=COMMAND_TIMEOUT_S,
    )


def promotions() -> dict[str, float]:
    return {
        t: REGISTRY.get_sample_value("tier_promotions_total", {"from": t}) or 0.0
        for t in ("warm", "cold")
    }


async def demote(region: Region, records: list[DedupRecord]) -> None:
    """records[0] to warm, records[1] to cold."""
    await make_warm(region.shard(records[0]), records[0])
    await make_cold(region.shard(records[1]), region.store, [records[1]])


async def test_a_body_below_hot_reads_back_identical_and_stays_without_promotion(
    region: Region, env: dict[str, str]
) -> None:
    accepted = await region.accept(STAYING, 3)
    records = [record for _, record in accepted]
    await demote(region, records)
    before = promotions()

    for (event, record), tier in zip(accepted, (1, 2, 0), strict=True):
        answer = await signed_read(region.http, record.tenant_id, record.event_id)
        assert answer.status_code == 200, answer.text
        assert canonical_bytes(answer.json()["event"]) == record.event
        assert answer.json()["event"] == event
        cli = await geoledger_get(env, region.name, record)
        assert cli.code == 0, cli.stderr
        assert canonical_bytes(json.loads(cli.stdout)["event"]) == record.event
        assert await tier_of(region.shard(record), record) == tier

    assert promotions() == before


async def test_a_body_below_hot_is_promoted_when_the_policy_says_so(region: Region) -> None:
    accepted = await region.accept(PROMOTING, 2)
    records = [record for _, record in accepted]
    await demote(region, records)
    before = promotions()

    for record in records:
        answer = await signed_read(region.http, record.tenant_id, record.event_id)
        assert answer.status_code == 200, answer.text
        assert canonical_bytes(answer.json()["event"]) == record.event
        assert await tier_of(region.shard(record), record) == 0

    after = promotions()
    assert {t: after[t] - before[t] for t in after} == {"warm": 1, "cold": 1}


async def test_a_damaged_body_answers_500_and_the_cli_names_key_and_store(
    region: Region, env: dict[str, str]
) -> None:
    records = [record for _, record in await region.accept(PROMOTING, 2)]
    warm, cold = records
    blob = bytearray(await make_warm(region.shard(warm), warm))
    blob[-3] ^= 0x01
    await region.shard(warm).execute(
        "UPDATE dedup_events SET warm_body = $3 WHERE tenant_id = $1 AND event_id = $2",
        warm.tenant_id,
        warm.event_id,
        bytes(blob),
    )
    pack_id = await make_cold(region.shard(cold), region.store, [cold])
    key = pack_key(cold.tenant_id, pack_id)
    data = bytearray(await region.store.get(key))
    data[20] ^= 0x01  # inside the only blob, after the 12-byte header
    await region.store.put(key, bytes(data))

    for record, tier, reason in ((warm, "warm", "decode"), (cold, "cold", "corrupt")):
        answer = await signed_read(region.http, record.tenant_id, record.event_id)
        assert answer.status_code == 500, answer.text
        error = answer.json()["error"]
        assert error["code"] == "body_unreadable"
        assert f"{tier} body of {record.tenant_id}/{record.event_id}" in error["message"]
        assert f"({reason})" in error["message"]
        cli = await geoledger_get(env, region.name, record)
        assert cli.code == 1, (cli.stdout, cli.stderr)
        assert f"{record.tenant_id}/{record.event_id}" in cli.said and cli.stdout == ""
        if tier == "cold":
            assert region.store.describe() in cli.said
        assert await tier_of(region.shard(record), record) == (1 if tier == "warm" else 2)
