"""The audit's dead-letter queue on the real stack: eu's write-once bucket is missing (the fault),
so every `enrich_worm` of eu's segments exhausts its attempts and lands in eu's dead-letter
queue, while us's log goes on; `geoledger audit dlq list` shows the entries, a purge without
--confirm changes nothing, and once the bucket exists `geoledger audit dlq replay --all`
re-enqueues them: eu's log then holds every record of its stream in a witnessed checkpoint, and
the entries are kept as replayed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ledger.config import Settings
from storage.audit import dlq_list
from storage.objectstore.worm_factory import ensure_worm_bucket
from tests.conftest import RunningStack
from tests.support.audit_pipeline import (
    audit_pipeline,
    audit_settings,
    serving_witnesses,
    wait_witnessed,
    with_missing_worm_bucket,
)
from tests.support.cluster import running_cluster
from tests.support.processes import geoledger_env, run_geoledger
from tests.support.tenants import register, tenant
from workers.audit_ops import control_db
from workers.crr_control import start_crr
from workflows import queues

pytestmark = pytest.mark.timeout(300)

ACME = tenant("lettered")


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    base = await audit_settings(running_stack, tmp_path, "audit_dlq")
    settings = with_missing_worm_bucket(base, "eu")
    await register(settings, ACME)
    return settings


async def open_entries(settings: Settings, region: str, timeout_s: float = 60.0) -> int:
    """Wait until the region's dead-letter queue has open entries and stops growing."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    count = -1
    while asyncio.get_running_loop().time() < deadline:
        async with control_db(settings, region) as db:
            now = len(await dlq_list(db))
        if now and now == count:
            return now
        count = now
        await asyncio.sleep(2.0)
    raise AssertionError(f"expected open DLQ entries in {region}, have {count}")


async def test_a_poisoned_segment_is_dead_lettered_and_replays_once_the_fault_is_fixed(
    settings: Settings, running_stack: RunningStack
) -> None:
    env = geoledger_env(settings, running_stack.config_path)
    async with (
        serving_witnesses(settings),
        running_cluster(settings) as cluster,
        audit_pipeline(cluster.client, settings, task_queue=queues.AUDIT),
    ):
        await start_crr(cluster.client, settings)
        us = await cluster.post("us", [ACME.event(f"us-{i}", {"i": i}) for i in range(12)])
        eu = await cluster.post("eu", [ACME.event(f"eu-{i}", {"i": i}) for i in range(9)])
        # us is not held back by eu's fault.
        await wait_witnessed(settings, {"us": len(us)})
        letters = await open_entries(settings, "eu")

        listed = await run_geoledger(env, "audit", "dlq", "list", "--region", "eu", "--json")
        assert listed.code == 0, listed.stderr
        rows = json.loads(listed.stdout)
        assert len(rows) == letters
        assert {row["task_type"] for row in rows} == {"enrich_worm"}
        assert all(row["attempts"] == settings.audit.task_max_attempts for row in rows)
        assert all(row["workflow_id"].startswith("audit-segment-eu-n1-") for row in rows)
        async with control_db(settings, "eu") as db:
            assert await db.fetchval("SELECT count(*) FROM audit_leaves") == 0

        refused = await run_geoledger(
            env, "audit", "dlq", "purge", str(rows[0]["id"]), "--region", "eu", "--reason", "x"
        )
        assert refused.code == 2 and "--confirm" in refused.stderr

        # The fault is fixed: the bucket exists. The replay re-enqueues every entry.
        eu_store = settings.region("eu").audit_store
        assert eu_store is not None
        await ensure_worm_bucket(eu_store, settings.region("eu").audit_retention_days)
        replayed = await run_geoledger(env, "audit", "dlq", "replay", "--all", "--region", "eu")
        assert replayed.code == 0, replayed.stderr
        await wait_witnessed(settings, {"eu": len(eu)})

    async with control_db(settings, "eu") as db:
        after = await dlq_list(db, state=None)
    assert len(after) == letters and {entry.state for entry in after} == {"replayed"}
