"""Tiering on the real stack, two regions (us keeps its packs on S3 under moto, eu on GCS under
fake-gcs-server) with CRR running: one tenant's records go hot -> warm -> cold through
DemotionWorkflow runs whose clock (`as_of_ms`) is set days ahead, never slept for; each region
demotes at its own time (one tiering worker per region, so one run moves one region) and the geo
check stays 0; every read (the node's GET and `geoledger events get`) returns the byte-identical
signed event whatever tier its body is in; duplicates and conflicts of keys whose bodies are cold
are still answered without reading a body. A cold outage (the region's private moto stopped)
makes demotion retry and cold reads answer 503 while hot and warm keep serving; once the store is
back the demotion finishes and nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client

from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.tier_policy import TierPolicy, TierPolicyOverride
from storage.dedup.store import DedupStore
from storage.embedded.process import free_port, stop_pid
from storage.embedded.s3 import EmbeddedS3
from storage.tiering.policy_store import set_fields
from storage.tiering.reader import TierReadOptions
from tests.conftest import RunningStack
from tests.e2e.test_crr_two_regions import wait_converged
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings, settings_env
from tests.support.processes import run_geoledger
from tests.support.tenants import register, signed_read, tenant
from tests.support.tiering_worker import tiering_worker
from workers.crr_control import start_crr
from workers.geo_check import run_geo_check
from workers.tier_demote import start_demotion
from workflows.demotion import DemotionStatus, DemotionWorkflow

pytestmark = pytest.mark.timeout(600)

OWNER = tenant("tiered")
DAY_MS = 86_400_000
POLICY = TierPolicy()  # the defaults of [tiering]: the TTLs the clocks below step over
TIER_NAMES = {0: "hot", 1: "warm", 2: "cold"}
COMMAND_TIMEOUT_S = 60.0
TIERS_BY_KEY = """
SELECT event_id, body_tier FROM dedup_events WHERE tenant_id = $1
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def past_hot_ttl() -> int:
    """A clock by which every body accepted so far has left hot, and none has left warm."""
    return now_ms() + (POLICY.hot_ttl_days + 1) * DAY_MS


def past_warm_ttl() -> int:
    """A clock by which every body accepted so far belongs in cold."""
    return now_ms() + (POLICY.warm_ttl_days + 1) * DAY_MS


async def tiers(settings: Settings, region: str) -> dict[str, int]:
    """The body tier of each of OWNER's keys in `region`."""
    found: dict[str, int] = {}
    for dsn in settings.region(region).shard_dsns:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(TIERS_BY_KEY, OWNER.tenant_id)
        finally:
            await conn.close()
        found |= {row["event_id"]: row["body_tier"] for row in rows}
    return found


def only(settings: Settings, region: str) -> Settings:
    """`settings` with one region: a tiering worker built on it demotes that region alone."""
    return settings.model_copy(update={"regions": {region: settings.region(region)}})


async def demote(client: Client, settings: Settings, region: str, as_of_ms: int) -> DemotionStatus:
    """One DemotionWorkflow run of OWNER in `region` alone, TTLs counted to `as_of_ms`."""
    async with tiering_worker(client, only(settings, region)) as task_queue:
        handle = await start_demotion(client, OWNER.tenant_id, as_of_ms, 0, task_queue)
        status: DemotionStatus = await handle.result()
    assert status.done and status.last_error is None, status
    return status


async def keep_bodies_where_read(settings: Settings) -> None:
    """OWNER's policy without promote_on_read in every region, so reads leave tiers as they are."""
    for region in settings.regions.values():
        conn = await asyncpg.connect(region.control_dsn)
        try:
            await set_fields(conn, OWNER.tenant_id, TierPolicyOverride(promote_on_read=False))
        finally:
            await conn.close()


class Ledger:
    """What was sent and what each region answered for each key while every body was hot."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.last_seq: dict[str, int] = {}
        self.bodies: dict[str, dict[str, bytes]] = {region: {} for region in cluster.nodes}

    async def post(self, region: str, events: list[dict[str, Any]], expected: str) -> None:
        results = await self.cluster.post(region, events)
        assert {r["status"] for r in results} == {expected}, results
        stream = f"{region}/{self.cluster.settings.region(region).nodes[0].name}"
        self.last_seq[stream] = max(self.last_seq.get(stream, 0), *(r["seq"] for r in results))

    async def batch(self, label: str) -> list[str]:
        """Keys only one region gets, and keys both get: the same event (a duplicate across
        regions) and rival events (a conflict). Returns the keys."""
        us = [OWNER.event(f"{label}-us-{i}", {"i": i}) for i in range(6)]
        eu = [OWNER.event(f"{label}-eu-{i}", {"i": i}) for i in range(6)]
        await self.post("us", us, "accepted")
        await self.post("eu", eu, "accepted")
        for region in ("us", "eu"):
            same = [OWNER.event(f"{label}-same-{i}", {"i": i}) for i in range(2)]
            rival = [OWNER.event(f"{label}-rival-{i}", {"side": region}) for i in range(2)]
            await self.post(region, same + rival, "accepted")
        await wait_converged(self.cluster.settings, self.last_seq)
        keys = [e["event_id"] for e in us + eu + same + rival]
        for region in self.bodies:
            for key in keys:
                self.bodies[region][key] = await self.read(region, key)
        return keys

    async def read(self, region: str, key: str) -> bytes:
        answer = await signed_read(self.cluster.nodes[region], OWNER.tenant_id, key)
        assert answer.status_code == 200, (region, key, answer.text)
        return canonical_bytes(answer.json()["event"])

    async def assert_reads_identical(self, region: str) -> None:
        for key, expected in self.bodies[region].items():
            assert await self.read(region, key) == expected, (region, key)


async def assert_geo_clean(cluster: Cluster) -> None:
    result = await run_geo_check(cluster.client)
    assert result.differing_keys == 0, result


async def dump_digest(settings: Settings, region: str) -> str:
    options = TierReadOptions.from_settings(settings)
    async with await DedupStore.open(settings.region(region), tiering=options) as store:
        return await store.dump_digest_total()


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "tier_e2e")
    await register(settings, OWNER)
    await keep_bodies_where_read(settings)
    return settings


async def test_records_go_through_three_tiers_in_two_regions_and_read_back_identical(
    settings: Settings, running_stack: RunningStack
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GEOLEDGER_")},
        **settings_env(settings, running_stack.config_path),
        "COLUMNS": "500",
    }
    async with running_cluster(settings) as cluster:
        await start_crr(cluster.client, settings)
        sent = Ledger(cluster)

        first = await sent.batch("b1")
        # us first: batch 1 past the warm TTL goes to cold; eu keeps it hot for now.
        await demote(cluster.client, settings, "us", past_warm_ttl())
        assert {(await tiers(settings, "us"))[k] for k in first} == {2}
        assert {(await tiers(settings, "eu"))[k] for k in first} == {0}
        await assert_geo_clean(cluster)

        # Keys whose bodies are cold still get their answers, from the key rows alone.
        await sent.post("us", [OWNER.event("b1-us-0", {"i": 0})], "duplicate")
        await sent.post("us", [OWNER.event("b1-us-1", {"i": "other"})], "conflict")
        await sent.post("us", [OWNER.event("b1-same-0", {"i": 0})], "duplicate")
        await sent.post("us", [OWNER.event("b1-rival-0", {"side": "third"})], "conflict")
        await wait_converged(settings, sent.last_seq)

        second = await sent.batch("b2")
        # Later, eu: batches 1 and 2 go to warm; us: batch 2 goes to warm.
        await demote(cluster.client, settings, "eu", past_hot_ttl())
        await demote(cluster.client, settings, "us", past_hot_ttl())
        third = await sent.batch("b3")

        expected = {
            **dict.fromkeys(first, 2),
            **dict.fromkeys(second, 1),
            **dict.fromkeys(third, 0),
        }
        assert await tiers(settings, "us") == expected
        assert await tiers(settings, "eu") == {**expected, **dict.fromkeys(first, 1)}
        await assert_geo_clean(cluster)
        assert await dump_digest(settings, "us") == await dump_digest(settings, "eu")

        for region in ("us", "eu"):
            await sent.assert_reads_identical(region)
            # `geoledger events get`, one key per tier.
            for key in (first[0], second[0], third[0]):
                cli = await run_geoledger(
                    env,
                    *("events", "get", OWNER.tenant_id, key, "--region", region, "--json"),
                    timeout_s=COMMAND_TIMEOUT_S,
                )
                assert cli.code == 0, cli.stderr
                body = canonical_bytes(json.loads(cli.stdout)["event"])
                assert body == sent.bodies[region][key], (region, key)
        # Reading changed no tier (promote_on_read is off).
        assert await tiers(settings, "us") == expected


class PrivateMoto:
    """A moto of this test's own, its objects on disk: it can be stopped and started again."""

    def __init__(self, state_dir: Path) -> None:
        self.server = EmbeddedS3(state_dir, free_port())
        self.pid: int | None = None

    def start(self) -> None:
        self.pid = self.server.start()

    def stop(self) -> None:
        if self.pid is not None:
            stop_pid(self.pid)
            self.pid = None


@contextlib.contextmanager
def private_moto(state_dir: Path) -> Iterator[PrivateMoto]:
    """A started PrivateMoto, always stopped on exit."""
    moto = PrivateMoto(state_dir)
    moto.start()
    try:
        yield moto
    finally:
        moto.stop()


async def test_a_cold_outage_delays_demotion_and_cold_reads_and_loses_nothing(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    settings = await isolated_settings(running_stack, tmp_path, "tier_outage")
    with private_moto(tmp_path / "moto") as moto:
        bucket = f"outage-{uuid.uuid4().hex[:12]}"
        moto.server.ensure_buckets([bucket])
        us = settings.region("us")
        store = us.object_store.model_copy(
            update={"url": f"s3://{bucket}/ledger", "endpoint_url": moto.server.endpoint_url}
        )
        settings = settings.model_copy(
            update={
                "regions": {
                    **settings.regions,
                    "us": us.model_copy(update={"object_store": store}),
                }
            }
        )
        await register(settings, OWNER)
        await keep_bodies_where_read(settings)
        await outage_story(settings, moto)


async def outage_story(settings: Settings, moto: PrivateMoto) -> None:
    async with running_cluster(settings) as cluster:
        await start_crr(cluster.client, settings)
        sent = Ledger(cluster)
        cold = await sent.batch("cold")
        await demote(cluster.client, settings, "us", past_warm_ttl())
        warm = await sent.batch("warm")
        await demote(cluster.client, settings, "us", past_hot_ttl())
        hot = await sent.batch("hot")
        before = await dump_digest(settings, "us")

        moto.stop()
        # Cold reads fail clearly, for as long as the store is down; hot and warm serve.
        node = cluster.nodes["us"]
        answer = await signed_read(node, OWNER.tenant_id, cold[0])
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "1"
        error = answer.json()["error"]
        assert error["code"] == "unavailable"
        assert f"cold body of {OWNER.tenant_id}/{cold[0]}" in error["message"]
        for key in warm + hot:
            assert await sent.read("us", key) == sent.bodies["us"][key]

        # A demotion to cold retries while the store is down and moves nothing...
        async with tiering_worker(cluster.client, only(settings, "us")) as task_queue:
            handle = await start_demotion(
                cluster.client, OWNER.tenant_id, past_warm_ttl(), 0, task_queue
            )
            attempts = 0
            for _ in range(120):
                described = await handle.describe()
                attempts = max(
                    (a.attempt for a in described.raw_description.pending_activities), default=0
                )
                if attempts >= 2:
                    break
                await asyncio.sleep(0.5)
            assert attempts >= 2, "the cold batch was not retried"
            status: DemotionStatus = await handle.query(DemotionWorkflow.status)
            assert (status.done, status.totals.to_cold) == (False, 0), status
            assert {(await tiers(settings, "us"))[k] for k in warm} == {1}

            # ... and finishes once the store is back.
            moto.start()
            done: DemotionStatus = await asyncio.wait_for(handle.result(), timeout=180)
        # Everything left (the warm batch, and the hot one through warm) is cold now.
        assert done.done and done.totals.to_cold == len(warm + hot), done
        assert set((await tiers(settings, "us")).values()) == {2}
        for key in cold + warm + hot:
            assert await sent.read("us", key) == sent.bodies["us"][key], key
        assert await dump_digest(settings, "us") == before
        await assert_geo_clean(cluster)
