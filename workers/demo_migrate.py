"""The demo's re-sharding step: one region's ring grows into every shard its configuration lists
(or, on a stack an earlier demo already grew, shrinks back to its initial ring) while both
regions keep ingesting; the cutover and the cleanup wait for approvals, sent as signals.

The ingest here is a steady trickle of new events and events sent again, so the step can say how
many writes failed (none) and how many repeats were answered `duplicate` (all) in each phase.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client

from activities.migrate_models import MigrationProgress, Stage
from ledger.config import Settings
from ledger.keys import key_id_for
from ledger.migration_plan import MigrationPlan
from storage.dedup.plan import plan_migration
from storage.dedup.read import keys_per_shard
from storage.dedup.store import DedupStore
from workers import demo_story
from workers.ingest_http import post_signed_batch
from workers.migrate_control import migration_progress
from workflows.migration_ids import migration_workflow_id

RATE_KEYS_PER_S = 2_000.0
TRICKLE_NEW, TRICKLE_AGAIN = 20, 5


async def target_ring(settings: Settings, region: str) -> tuple[int, int]:
    """(current ring, ring to migrate to): every configured shard, or back to the initial ring
    when the ring already uses them all."""
    config = settings.region(region)
    async with await DedupStore.open(config) as store:
        current = store.route.ring_size
    configured = len(config.shard_dsns)
    if current < configured:
        return current, configured
    return current, config.initial_ring or max(1, configured // 2)


async def plan(settings: Settings, region: str, to_ring: int) -> MigrationPlan:
    """A stored plan; raises RuntimeError naming the failed checks when it cannot be stored."""
    outcome = await plan_migration(
        region, settings.region(region), to_ring, RATE_KEYS_PER_S, lambda _: None
    )
    if outcome.plan is None:
        failed = "; ".join(f"{c.name}: {c.reason}" for c in outcome.report.failed)
        raise RuntimeError(f"the plan to re-shard {region} was refused: {failed}")
    return outcome.plan


@dataclass
class Trickle:
    """Both regions' ingest during the migration, answers counted by the phase they came in."""

    settings: Settings
    private_key: Ed25519PrivateKey
    prefix: str
    stage: Stage = Stage.PLAN
    answers: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    sent: dict[str, list[str]] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)

    async def round(self, client: httpx.AsyncClient, region: str, number: int) -> None:
        key_id = key_id_for(self.private_key.public_key())
        fresh = demo_story.demo_events(
            self.private_key, key_id, f"{self.prefix}{number:06d}", region, TRICKLE_NEW
        )[:TRICKLE_NEW]
        again = self.sent.get(region, [])[-TRICKLE_AGAIN:]
        stage = self.stage.value
        try:
            results = await post_signed_batch(client, fresh + again)
        except httpx.HTTPError as exc:
            self.failures.append(f"{region} during {stage}: {exc}")
            return
        for i, result in enumerate(results):
            self.answers[(stage, "new" if i < len(fresh) else "again", result["status"])] += 1
            stream = f"{region}/{self.settings.region(region).nodes[0].name}"
            self.last_seq[stream] = max(self.last_seq.get(stream, 0), result.get("seq", 0))
        self.sent[region] = fresh

    async def run(self) -> None:
        clients = {
            region: httpx.AsyncClient(
                base_url=f"http://{config.nodes[0].host}:{config.nodes[0].port}", timeout=30
            )
            for region, config in self.settings.regions.items()
        }
        try:
            for number in range(1_000_000):
                await asyncio.gather(*(self.round(c, r, number) for r, c in clients.items()))
                await asyncio.sleep(0.1)
        finally:
            for client in clients.values():
                await client.aclose()

    @property
    def failed(self) -> int:
        return len(self.failures)

    def repeats(self) -> tuple[int, int]:
        """(events sent again, of them answered `duplicate`)."""
        again = {k: n for k, n in self.answers.items() if k[1] == "again"}
        return sum(again.values()), sum(n for k, n in again.items() if k[2] == "duplicate")


@contextlib.asynccontextmanager
async def trickling(trickle: Trickle, client: Client, plan_id: str) -> AsyncIterator[None]:
    """Ingest in the background, tagging each answer with the phase the migration is in."""

    async def follow() -> None:
        while True:
            with contextlib.suppress(Exception):
                trickle.stage = (await migration_progress(client, plan_id)).stage
            await asyncio.sleep(0.2)

    tasks = [asyncio.create_task(trickle.run()), asyncio.create_task(follow())]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def until(
    client: Client,
    plan_id: str,
    condition: Callable[[MigrationProgress], bool],
    on_progress: Callable[[MigrationProgress], None],
    timeout_s: float = 600,
) -> MigrationProgress:
    """Poll the migration until `condition` holds, reporting each progress."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        progress = await migration_progress(client, plan_id)
        on_progress(progress)
        if condition(progress):
            return progress
        if progress.stage in (Stage.DONE, Stage.ROLLED_BACK) or loop.time() > deadline:
            raise TimeoutError(f"{migration_workflow_id(plan_id)} stopped at {progress.stage}")
        await asyncio.sleep(0.3)


async def signal(client: Client, plan_id: str, name: str) -> None:
    """Send the approval as the web UI would: a signal."""
    await client.get_workflow_handle(migration_workflow_id(plan_id)).signal(name)


async def shard_keys(settings: Settings, region: str) -> list[int]:
    """Keys each configured shard holds."""
    async with await DedupStore.open(settings.region(region)) as store:
        return await keys_per_shard(store.pools.shards)
