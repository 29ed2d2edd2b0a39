"""`geoledger crr start | status | pause | resume` and `geoledger geo check` as an operator runs
them: real `geoledger` processes on the same isolated two-region settings as ingest nodes and CRR
workers running in this process (tests/support/cluster.py), all on the session's real stack."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from ledger.config import Settings
from storage.dedup.store import DedupStore
from tests.conftest import RunningStack
from tests.support.cluster import Cluster, running_cluster
from tests.support.isolated import isolated_settings, settings_env
from tests.support.processes import CommandOutcome, run_geoledger
from tests.support.tenants import register, tenant
from workers.crr_control import crr_workflows

pytestmark = pytest.mark.timeout(240)

GEOLEDGER = Path(sys.executable).parent / "geoledger"
# Interpreter start-up and imports on a loaded 2-core machine take several seconds.
COMMAND_TIMEOUT_S = 90.0
CONVERGE_TIMEOUT_S = 60.0
# Unpaused, a new event is sealed within 1 s and shipped and applied within about 1 s more; a
# paused CRR must still not have applied it after twice that.
PAUSED_WATCH_S = 4.0
ACME = tenant("acme")
PAIRS = {("us/n1", "eu"), ("eu/n1", "us")}


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path, "clicrr")
    await register(settings, ACME)
    return settings


async def geoledger(env: dict[str, str], *args: str) -> CommandOutcome:
    return await run_geoledger(env, *args, timeout_s=COMMAND_TIMEOUT_S)


async def ingest(cluster: Cluster, region: str, prefix: str, count: int) -> int:
    """`count` new events of ACME into `region`, plus five identical in every region (each region
    ends up holding one copy of the other's); returns the stream's last seq."""
    events = [ACME.event(f"{prefix}-{region}-{i}", {"i": i}) for i in range(count)]
    events += [ACME.event(f"{prefix}-both-{i}", {"i": i}) for i in range(5)]
    results = await cluster.post(region, events)
    assert {r["status"] for r in results} == {"accepted"}, results
    return max(int(r["seq"]) for r in results)


async def applied(settings: Settings) -> dict[tuple[str, str], int]:
    """Per (stream, region it is replayed into): that region's replay watermark."""
    positions: dict[tuple[str, str], int] = {}
    for stream, target in PAIRS:
        async with await DedupStore.open(settings.region(target)) as store:
            positions[(stream, target)] = await store.applied_position(stream)
    return positions


async def wait_applied(settings: Settings, last: dict[str, int]) -> None:
    deadline = time.monotonic() + CONVERGE_TIMEOUT_S
    while True:
        positions = await applied(settings)
        behind = {pair: seq for pair, seq in positions.items() if seq < last[pair[0]]}
        if not behind:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not applied after {CONVERGE_TIMEOUT_S}s: {behind} of {last}")
        await asyncio.sleep(0.3)


async def first_run_ids(client: Client, workflow_ids: list[str]) -> dict[str, str]:
    """Each running workflow's first run id: continue-as-new keeps it, a new start would not."""
    firsts: dict[str, str] = {}
    for workflow_id in workflow_ids:
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING, (workflow_id, described)
        firsts[workflow_id] = described.raw_info.first_run_id
        assert firsts[workflow_id], workflow_id
    return firsts


def rows_by_pair(status: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    rows = {(row["stream"], row["target"]): row for row in status["streams"]}
    assert set(rows) == PAIRS and len(status["streams"]) == len(PAIRS), status
    return rows


async def status_once_shipped(
    env: dict[str, str], last: dict[str, int]
) -> dict[tuple[str, str], dict[str, Any]]:
    """`crr status` rows once each shipper reports its stream shipped through `last`: a shipper
    folds in what its run shipped when the run returns, crr.follow_idle_s after the stream went
    quiet - possibly after the other region has applied it."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT_S
    while True:
        rows = rows_by_pair((await geoledger(env, "crr", "status", "--json")).json())
        if all(row["shipped_seq"] == last[stream] for (stream, _), row in rows.items()):
            return rows
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.5)


async def test_operator_starts_pauses_resumes_and_checks_crr(
    settings: Settings, running_stack: RunningStack
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GEOLEDGER_")},
        **settings_env(settings, running_stack.config_path),
    }
    expected_ids = [ref.workflow_id for ref in crr_workflows(settings)]
    async with running_cluster(settings) as cluster:
        last = {
            "us/n1": await ingest(cluster, "us", "before", 20),
            "eu/n1": await ingest(cluster, "eu", "before", 15),
        }

        # Start is idempotent: the second call names the same workflows and starts none.
        started = (await geoledger(env, "crr", "start", "--json")).json()
        assert sorted(started["workflows"]) == sorted(expected_ids)
        chains = await first_run_ids(cluster.client, expected_ids)
        again = (await geoledger(env, "crr", "start", "--json")).json()
        assert again == started
        assert await first_run_ids(cluster.client, expected_ids) == chains

        await wait_applied(settings, last)
        rows = await status_once_shipped(env, last)
        for (stream, _), row in rows.items():
            assert row["shipped_seq"] == row["applied_seq"] == last[stream], row
            assert row["lag_seconds"] == 0 and row["last_error"] is None, row
            assert row["ship_paused"] is False and row["replay_paused"] is False, row

        # Paused: events ingested now stay in their own region.
        paused = await geoledger(env, "crr", "pause")
        assert paused.code == 0, paused.stderr
        assert sorted(paused.stdout.split()) == sorted(
            ["paused:"] * len(expected_ids) + expected_ids
        )
        before_pause = dict(last)
        last = {
            "us/n1": await ingest(cluster, "us", "paused", 30),
            "eu/n1": await ingest(cluster, "eu", "paused", 25),
        }
        ingested_at = time.monotonic()
        rows = rows_by_pair((await geoledger(env, "crr", "status", "--json")).json())
        for (stream, _), row in rows.items():
            assert row["ship_paused"] is True and row["replay_paused"] is True, row
            assert row["applied_seq"] == before_pause[stream], row
            assert row["lag_seconds"] > 0, row
        await asyncio.sleep(max(0.0, PAUSED_WATCH_S - (time.monotonic() - ingested_at)))
        assert await applied(settings) == {
            (stream, target): before_pause[stream] for stream, target in PAIRS
        }

        # Resumed: both regions converge, nothing lost and nothing applied twice.
        resumed = await geoledger(env, "crr", "resume")
        assert resumed.code == 0, resumed.stderr
        assert sorted(resumed.stdout.split()) == sorted(
            ["resumed:"] * len(expected_ids) + expected_ids
        )
        await wait_applied(settings, last)
        digests = set()
        for region in settings.regions:
            async with await DedupStore.open(settings.region(region)) as store:
                # 20 + 15 + 30 + 25 own keys, and 5 + 5 keys sent to both regions.
                assert await store.count_events() == 100, region
                # Each region holds one copy (a duplicate) of the other's version of those 10.
                assert await store.count_copies() == (10, 0), region
                digests.add(await store.dump_digest_total())
        assert len(digests) == 1

        check = (await geoledger(env, "geo", "check", "--json")).json()
        assert check["differing_keys"] == 0, check
        assert [pair["pair"] for pair in check["pairs"]] == ["eu-us"], check
