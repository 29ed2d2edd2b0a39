"""CRR workers as real processes (`geoledger worker run`), SIGKILLed at the two CRR crash points:
the us/n1 node-queue worker right after a segment's upload (before its manifest), the
`geoledger-crr` worker right after a replayed segment's apply (before the activity returns). Both
restart without the crash point, and the regions still converge: same dedup state (I3), unbroken
signed manifest chains (I5), nothing lost (I4) and nothing applied twice."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from ledger.config import Settings
from ledger.manifest import parse_manifest
from storage.crr.naming import manifests_prefix, stream_prefix
from storage.dedup.store import DedupStore
from storage.objectstore import open_object_store
from tests.conftest import RunningStack
from tests.support.cluster import Cluster, ingest_nodes, terminate_crr
from tests.support.isolated import isolated_settings
from tests.support.processes import ProcessGroup, start_worker
from tests.support.tenants import register, tenant
from workers.client import connect
from workers.crr_control import start_crr
from workflows import queues

ACME = tenant("acme")
SHIP_CRASH = "crr.ship.after_upload"
REPLAY_CRASH = "crr.replay.after_apply"
# A killed activity is retried once its heartbeat timeout (30 s) has passed, so convergence
# takes at least that long after a kill.
CONVERGE_TIMEOUT_S = 150
SEAL_AGE_S = 1.2
SELECT_WINNERS = "SELECT tenant_id, event_id, region, node FROM dedup_events"
SELECT_COPIES = "SELECT tenant_id, event_id, region, node, digest FROM dedup_copies"


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "crr_kill")
    await register(settings, ACME)
    return settings


class Sent:
    """Which regions each key was sent to, and each stream's highest acknowledged seq."""

    def __init__(self) -> None:
        self.regions: dict[str, set[str]] = defaultdict(set)
        self.last_seq: dict[str, int] = {}

    async def post(self, cluster: Cluster, region: str, events: list[dict[str, Any]]) -> None:
        results = await cluster.post(region, events)
        assert {r["status"] for r in results} == {"accepted"}, results
        for event in events:
            self.regions[event["event_id"]].add(region)
        stream = f"{region}/{cluster.settings.region(region).nodes[0].name}"
        self.last_seq[stream] = max(self.last_seq.get(stream, 0), *(r["seq"] for r in results))

    async def round(self, cluster: Cluster, label: str) -> None:
        """Events only one region gets, and keys both get: with the same content (a duplicate
        across regions) and with different content (a conflict)."""
        await self.post(cluster, "us", [ACME.event(f"{label}-us-{i}", {"i": i}) for i in range(20)])
        await self.post(cluster, "eu", [ACME.event(f"{label}-eu-{i}", {"i": i}) for i in range(20)])
        for region in ("us", "eu"):
            same = [ACME.event(f"{label}-same-{i}", {"i": i}) for i in range(3)]
            rival = [ACME.event(f"{label}-rival-{i}", {"side": region}) for i in range(3)]
            await self.post(cluster, region, same + rival)


async def wait_converged(
    settings: Settings, streams: dict[str, int], timeout_s: float, workers: ProcessGroup
) -> None:
    """Until every region has applied every stream through the given seqs."""
    stores = {name: await DedupStore.open(settings.region(name)) for name in settings.regions}
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            behind = {}
            for region, store in stores.items():
                for stream, last in streams.items():
                    applied = await store.applied_position(stream)
                    if applied < last:
                        behind[(region, stream)] = (applied, last)
            if not behind:
                return
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}\n{p.log_tail(1500)}" for p in workers.processes)
                raise AssertionError(f"not converged after {timeout_s}s: {behind}\n{logs}")
            await asyncio.sleep(0.5)
    finally:
        for store in stores.values():
            await store.close()


async def applied_position(settings: Settings, region: str, stream: str) -> int:
    store = await DedupStore.open(settings.region(region))
    try:
        return await store.applied_position(stream)
    finally:
        await store.close()


async def stored_keys(store: Any, prefix: str) -> list[str]:
    return [info.key async for info in store.list(prefix=prefix)]


async def assert_manifest_chain(settings: Settings, region: str, stream: str, last: int) -> int:
    """The stream's manifests in the region's store: each parses, chains to the SHA-256 of the
    previous one's bytes, and their seqs run 1..last without gap or overlap. Returns how many."""
    store = open_object_store(settings.region(region).object_store)
    keys = await stored_keys(store, manifests_prefix(stream))
    previous_sha256, expected_first = "", 1
    for key in keys:
        data = await store.get(key)
        manifest = parse_manifest(data)
        where = f"{store.describe()}/{key}"
        assert str(manifest.stream) == stream, where
        assert manifest.prev_manifest_sha256 == previous_sha256, where
        assert manifest.first_seq == expected_first, where
        assert manifest.records == manifest.last_seq - manifest.first_seq + 1, where
        previous_sha256, expected_first = hashlib.sha256(data).hexdigest(), manifest.last_seq + 1
    assert expected_first - 1 == last, f"{region}: {stream} manifests end at {expected_first - 1}"
    return len(keys)


async def dedup_rows(settings: Settings, region: str) -> tuple[list[Any], list[Any], str]:
    """Every winner and every copy row of the region (all shards), and its dump digest."""
    store = await DedupStore.open(settings.region(region))
    try:
        winners = [row for pool in store.pools.shards for row in await pool.fetch(SELECT_WINNERS)]
        copies = [row for pool in store.pools.shards for row in await pool.fetch(SELECT_COPIES)]
        return winners, copies, await store.dump_digest_total()
    finally:
        await store.close()


async def test_crr_converges_after_ship_and_replay_workers_are_killed(
    running_stack: RunningStack, settings: Settings, tmp_path: Path
) -> None:
    client = await connect(settings)
    config = running_stack.config_path
    group = ProcessGroup(tmp_path / "logs")
    us_queue, eu_queue = queues.node_queue("us", "n1"), queues.node_queue("eu", "n1")
    sent = Sent()
    try:
        async with ingest_nodes(settings) as nodes:
            cluster = Cluster(settings, client, nodes)
            # Two rounds a seal apart: at least two segments per stream before any worker runs.
            await sent.round(cluster, "r1")
            await asyncio.sleep(SEAL_AGE_S)
            await sent.round(cluster, "r2")

            # eu/n1 gets no shipper yet: with no manifest anywhere the replay crash point cannot
            # fire, so the us/n1 shipper (whose workflow the CRR worker runs) dies first.
            us_shipper, crr = await asyncio.gather(
                start_worker(group, settings, config, us_queue, crash_at=SHIP_CRASH),
                start_worker(group, settings, config, queues.CRR, crash_at=REPLAY_CRASH),
            )
            await start_crr(client, settings)

            # (a) The us/n1 shipper dies after uploading its first segment to every target,
            # before writing that segment's manifest.
            assert await us_shipper.wait_exit(60) == -signal.SIGKILL, us_shipper.log_tail()
            for region in settings.regions:
                store = open_object_store(settings.region(region).object_store)
                assert await stored_keys(store, f"{stream_prefix('us/n1')}/segments/")
                assert await stored_keys(store, manifests_prefix("us/n1")) == []
            assert await applied_position(settings, "us", "eu/n1") == 0

            # (b) eu/n1 ships now; the CRR worker dies right after applying a first segment - of
            # eu/n1 into us, unless the killed us/n1 upload (retried once its 30 s heartbeat
            # timeout is over) got there first - and that apply committed with its watermark.
            eu_shipper, _ = await asyncio.gather(
                start_worker(group, settings, config, eu_queue),
                start_worker(group, settings, config, us_queue),
            )
            assert await crr.wait_exit(60) == -signal.SIGKILL, crr.log_tail()
            replayed = [
                await applied_position(settings, "us", "eu/n1"),
                await applied_position(settings, "eu", "us/n1"),
            ]
            assert max(replayed) > 0, replayed

            await start_worker(group, settings, config, queues.CRR)
            await sent.round(cluster, "r3")
            await wait_converged(settings, sent.last_seq, CONVERGE_TIMEOUT_S, group)
        assert eu_shipper.returncode is None, eu_shipper.log_tail()
    finally:
        await terminate_crr(client, settings)
        group.close()

    for region in settings.regions:
        for stream, last in sent.last_seq.items():
            assert await assert_manifest_chain(settings, region, stream, last) >= 2

    digests = set()
    for region in settings.regions:
        winners, copies, digest = await dedup_rows(settings, region)
        digests.add(digest)
        # One winner per distinct key sent, in every region: nothing lost, nothing extra.
        assert sorted(row["event_id"] for row in winners) == sorted(sent.regions)
        # A key sent to both regions has exactly one copy: the record of the other origin. A
        # segment applied twice would show here as a second copy or a copy of the winner itself.
        origin = {row["event_id"]: (row["region"], row["node"]) for row in winners}
        both = sorted(key for key, regions in sent.regions.items() if len(regions) == 2)
        assert sorted(row["event_id"] for row in copies) == both
        for row in copies:
            assert (row["region"], row["node"]) != origin[row["event_id"]], row
    assert len(digests) == 1, digests
