"""Two regions on the embedded stack: ingest into both, ship and replay both ways through S3 and
GCS, and converge to byte-identical dedup state (I3) with the same conflicts on both sides."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from ledger.config import Settings
from storage.dedup.store import DedupStore
from tests.conftest import RunningStack
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings
from tests.support.tenants import register, tenant
from workers.crr_control import start_crr
from workers.drills.rebuild import rebuild_region
from workers.geo_check import run_geo_check

ACME = tenant("acme")


async def wait_converged(
    settings: Settings, streams: dict[str, int], timeout_s: float = 60
) -> None:
    """Until every region has applied every stream through the given seqs."""
    stores = {name: await DedupStore.open(settings.region(name)) for name in settings.regions}
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            behind = {
                (region, stream): (await store.applied_position(stream), last)
                for region, store in stores.items()
                for stream, last in streams.items()
                if await store.applied_position(stream) < last
            }
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not converged after {timeout_s}s: {behind}")
            await asyncio.sleep(0.3)
    finally:
        for store in stores.values():
            await store.close()


async def region_state(settings: Settings, region: str) -> tuple[str, list[tuple[str, str]]]:
    store = await DedupStore.open(settings.region(region))
    try:
        conflicts = await store.conflicts(limit=1000)
        return await store.dump_digest_total(), sorted((c.tenant_id, c.event_id) for c in conflicts)
    finally:
        await store.close()


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crr")
    await register(settings, ACME)
    return settings


async def ingest_both(cluster: Cluster) -> dict[str, int]:
    us = [ACME.event(f"us-{i}", {"i": i}) for i in range(40)]
    eu = [ACME.event(f"eu-{i}", {"i": i}) for i in range(30)]
    same = [ACME.event(f"both-same-{i}", {"i": i}) for i in range(5)]
    us_rival = [ACME.event(f"both-diff-{i}", {"side": "us"}) for i in range(5)]
    eu_rival = [ACME.event(f"both-diff-{i}", {"side": "eu"}) for i in range(5)]
    us_results = await cluster.post("us", us + same + us_rival)
    eu_results = await cluster.post("eu", eu + same + eu_rival)
    assert {r["status"] for r in us_results + eu_results} == {"accepted"}
    return {"us/n1": max(r["seq"] for r in us_results), "eu/n1": max(r["seq"] for r in eu_results)}


async def test_regions_converge_byte_identically(settings: Settings) -> None:
    async with running_cluster(settings) as cluster:
        last = await ingest_both(cluster)
        await start_crr(cluster.client, settings)
        await wait_converged(settings, last)
        us_digest, us_conflicts = await region_state(settings, "us")
        eu_digest, eu_conflicts = await region_state(settings, "eu")
        assert us_digest == eu_digest
        assert us_conflicts == eu_conflicts
        assert us_conflicts == sorted(("acme", f"both-diff-{i}") for i in range(5))

        # Every state derives from WALs (I2): us rebuilt from the segments in its store alone
        # equals the live us, record for record, on every stream.
        rebuilt = await rebuild_region(settings, "us")
        assert rebuilt.ok, rebuilt.as_dict()
        assert {s.stream: s.rebuilt_seq for s in rebuilt.streams} == last
        assert rebuilt.records == sum(last.values())

        # The divergence check agrees, then names exactly a key deleted from one region.
        clean = await run_geo_check(cluster.client)
        assert clean.differing_keys == 0
        assert {pair.pair for pair in clean.pairs} == {"eu-us"}
        await delete_key(settings, "eu", "acme", "us-7")
        dirty = await run_geo_check(cluster.client)
        assert dirty.differing_keys == 1
        [sample] = [s for pair in dirty.pairs for stream in pair.streams for s in stream.sample]
        # Pairs are named alphabetically: a = eu lacks the record that b = us holds.
        assert sample.kind == "missing_in_a" and sample.in_a is None and sample.in_b is not None
        assert (sample.stream, sample.in_b.tenant_id, sample.in_b.event_id) == (
            "us/n1",
            "acme",
            "us-7",
        )


async def delete_key(settings: Settings, region: str, tenant_id: str, event_id: str) -> None:
    deleted = 0
    for dsn in settings.region(region).shard_dsns:
        conn = await asyncpg.connect(dsn)
        try:
            status = await conn.execute(
                "DELETE FROM dedup_events WHERE tenant_id = $1 AND event_id = $2",
                tenant_id,
                event_id,
            )
            deleted += int(status.split()[-1])
        finally:
            await conn.close()
    assert deleted == 1
