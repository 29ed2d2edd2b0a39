"""Twice the demo's ingest, in both regions at once, keeps the audit backlog within the SLO's
budget, and every leaf ends in a cosigned checkpoint.

The SLO: 99 % of leaves in a signed checkpoint within 1 h; the default [audit] batch_max_age_s
(300 s) is 1/12 of it. The test anchors with batch_max_age_s 1.0 (FAST_AUDIT), so its budget is
the SLO scaled down the same way: 12 x 1.0 s. "The demo's ingest" is measured first, in the same
run (tests/support/demo_load.py: batches of 250 posted to us's node one after the other, as
`geoledger demo` does); then both regions take twice that rate for WINDOW_S while each region's
audit gauges are sampled every 0.5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.audit.gauges import sample_region
from storage.objectstore import open_object_store
from tests.conftest import RunningStack
from tests.support.audit_pipeline import (
    audit_pipeline,
    audit_settings,
    serving_witnesses,
    wait_witnessed,
)
from tests.support.cluster import running_cluster
from tests.support.demo_load import DEMO_BATCH, demo_rate, paced
from tests.support.tenants import register, tenant
from workers.audit_ops import control_db
from workers.crr_control import start_crr

ACME = tenant("acme")
# The default batch age's share of the SLO's hour: 300 s of 3600 s.
SLO_OVER_BATCH_AGE = 3600.0 / 300.0
CALIBRATION_EVENTS = 4 * DEMO_BATCH
WINDOW_S = 8.0
SAMPLE_EVERY_S = 0.5
# The load generator shares the machine with everything it measures; below this share of the
# asked rate the run would not be the load it claims to be.
MIN_ACHIEVED_SHARE = 0.75
COUNT_LEAVES_BELOW = """
SELECT count(*) FROM audit_leaves WHERE stream = $1 AND seq = ANY($2::bigint[]) AND idx < $3
"""


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await audit_settings(running_stack, tmp_path, "audit_slo")
    await register(settings, ACME)
    return settings


def lines(prefix: str, count: int) -> list[str]:
    return [ACME.line(f"{prefix}-{i}", {"i": i}) for i in range(count)]


async def leaves_in(settings: Settings, region: str, seqs: list[int], size: int) -> int:
    """How many of the records at `seqs` of the region's stream have a leaf below `size`."""
    stream = str(StreamId(region, settings.region(region).nodes[0].name))
    async with control_db(settings, region) as db:
        found: int = await db.fetchval(COUNT_LEAVES_BELOW, stream, seqs, size)
    return found


@contextlib.asynccontextmanager
async def backlog_ages(settings: Settings) -> AsyncIterator[dict[str, list[float]]]:
    """Each region's audit_backlog_age_seconds (storage.audit.gauges), sampled every
    SAMPLE_EVERY_S while the block runs."""
    ages: dict[str, list[float]] = {region: [] for region in settings.regions}

    async def sample(region: str) -> None:
        config = settings.region(region)
        streams = [str(StreamId(region, node.name)) for node in config.nodes]
        store = open_object_store(config.object_store)
        async with control_db(settings, region) as db:
            while True:
                measured = await sample_region(db, store, streams)
                ages[region].append(measured.backlog_age_s)
                await asyncio.sleep(SAMPLE_EVERY_S)

    samplers = [asyncio.create_task(sample(region)) for region in settings.regions]
    try:
        yield ages
    finally:
        for task in samplers:
            task.cancel()
        await asyncio.gather(*samplers, return_exceptions=True)


async def test_twice_the_demo_ingest_stays_within_the_scaled_backlog_budget(
    settings: Settings,
) -> None:
    budget_s = SLO_OVER_BATCH_AGE * settings.audit.batch_max_age_s
    async with (
        running_cluster(settings) as cluster,
        serving_witnesses(settings),
        audit_pipeline(cluster.client, settings),
    ):
        await start_crr(cluster.client, settings)
        demo = await demo_rate(cluster.nodes["us"], lines("demo", CALIBRATION_EVENTS))
        rate = 2 * demo.events_per_s
        per_region = DEMO_BATCH * math.ceil(rate * WINDOW_S / DEMO_BATCH)
        load = {region: lines(f"load-{region}", per_region) for region in settings.regions}
        async with backlog_ages(settings) as ages:
            answered = await asyncio.gather(
                *(paced(cluster.nodes[region], load[region], rate) for region in load)
            )
            runs = dict(zip(load, answered, strict=True))
            sizes = {"us": CALIBRATION_EVENTS + per_region, "eu": per_region}
            await wait_witnessed(settings, sizes, timeout_s=60)
        acked = {region: run.seqs for region, run in runs.items()}
        acked["us"] += demo.seqs
        for region, seqs in acked.items():
            assert await leaves_in(settings, region, seqs, sizes[region]) == len(seqs), region

    for region, run in runs.items():
        assert run.events_per_s >= MIN_ACHIEVED_SHARE * rate, (region, run.events_per_s, rate)
    for region, values in ages.items():
        assert len(values) >= WINDOW_S / SAMPLE_EVERY_S / 2, (region, values)
        assert max(values) <= budget_s, (region, budget_s, values)
