"""The demo's step 8: us's dedup ring re-sharded online while both regions ingest
(workers/demo_migrate.py), told as it happens, with the web UI link of the workflow so a person
can send the cutover approval from the UI instead (`geoledger demo --wait-for-ui`)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from temporalio.client import Client

from activities.migrate_models import MigrationProgress, Stage
from cli.common import console
from ledger.config import Settings
from workers import demo_migrate, demo_story
from workers.geo_check import run_geo_check
from workers.migrate_control import start_migration

REGION = "us"


async def reshard(
    client: Client,
    settings: Settings,
    private_key: Ed25519PrivateKey,
    run: str,
    wait_for_ui: bool,
) -> None:
    current, target = await demo_migrate.target_ring(settings, REGION)
    if current == target:
        console.print(f"  {REGION} has a single shard configured: nothing to re-shard")
        return
    grows = "grows" if target > current else "shrinks back (an earlier demo grew it)"
    console.print(f"  {REGION}'s ring {grows}: {current} -> {target} shards")
    plan = await demo_migrate.plan(settings, REGION, target)
    console.print(
        f"  $ dedup-migrate plan --region {REGION} --to {target}: plan {plan.id}, "
        f"{plan.total_keys} keys to move",
        highlight=False,
    )
    workflow_id = await start_migration(
        client, settings, plan, rate_keys_per_s=demo_migrate.RATE_KEYS_PER_S
    )
    ui = f"{settings.temporal.ui_url}/namespaces/{settings.temporal.namespace}/workflows"
    link = f"{ui}?query={quote(f'WorkflowId = {workflow_id!r}')}"
    console.print(f"  workflow {workflow_id}: {link}", soft_wrap=True, highlight=False)
    trickle = demo_migrate.Trickle(settings, private_key, f"{run}-mig")
    async with demo_migrate.trickling(trickle, client, plan.id):
        with PassBar() as bar:
            await demo_migrate.until(client, plan.id, _waits_for("cutover"), bar.show)
        _ask_for_cutover(workflow_id, wait_for_ui)
        if not wait_for_ui:
            await demo_migrate.signal(client, plan.id, "approve_cutover")
        with PassBar() as bar:
            # A person at the web UI may take a while.
            patience = 3_600 if wait_for_ui else 600
            await demo_migrate.until(client, plan.id, _waits_for("cleanup"), bar.show, patience)
            await demo_migrate.signal(client, plan.id, "approve_cleanup")
            final = await demo_migrate.until(
                client, plan.id, lambda p: p.stage is Stage.DONE, bar.show
            )
    await demo_story.wait_converged(settings, trickle.last_seq)
    sent, duplicates = trickle.repeats()
    console.print(
        f"  done: {final.keys_copied} keys copied, {final.keys_verified} verified, "
        f"{final.keys_cleaned} cleaned up from the old shards, 0 mismatches",
        highlight=False,
    )
    console.print(
        f"  while it ran: {sum(trickle.answers.values())} events answered, {trickle.failed} "
        f"failed; {duplicates} of {sent} repeats answered duplicate",
        highlight=False,
    )
    keys = await demo_migrate.shard_keys(settings, REGION)
    console.print(f"  {REGION} keys per shard: {keys[:target]}", highlight=False)
    geo = await run_geo_check(client)
    console.print(f"  geo check after the re-sharding: {geo.differing_keys} divergent keys")
    if trickle.failed or duplicates != sent:
        raise TimeoutError(f"ingest during the re-sharding: {trickle.failures[:3]}")


def _waits_for(what: str) -> Callable[[MigrationProgress], bool]:
    def holds(progress: MigrationProgress) -> bool:
        return f"{what} approval" in (progress.waiting_for or "")

    return holds


def _ask_for_cutover(workflow_id: str, wait_for_ui: bool) -> None:
    if wait_for_ui:
        console.print(
            "  waiting for the cutover approval: open the link above, then Send Signal, "
            "name approve_cutover (or run the command below)"
        )
    else:
        console.print("  the cutover waits for an approval; the demo sends it as a signal:")
    console.print(
        f"  $ temporal workflow signal --workflow-id {workflow_id} --name approve_cutover",
        soft_wrap=True,
        highlight=False,
    )


class PassBar:
    """A progress bar of the migration's passes; `show` is the callback that updates it."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("  {task.description:<22}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
        )
        self.task = self.progress.add_task("plan", total=None, detail="")

    def __enter__(self) -> PassBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, progress: MigrationProgress) -> None:
        name = f"{progress.stage.value} {progress.pass_name or ''}".strip()
        self.progress.update(
            self.task,
            description=name,
            completed=progress.pass_keys,
            total=max(progress.keys_to_move, progress.pass_keys) or None,
            detail=progress.waiting_for or f"{progress.rate_keys_per_s:g} keys/s",
        )
