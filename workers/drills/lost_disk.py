"""`drill region-outage --lose-disk`: after the crash the region's disks are gone (its WAL
directory deleted, its control and shard databases dropped and created empty; the object stores
are its remote copy and survive), and it is rebuilt as runbooks/geo-failover.md says ("If the
region's disks are lost"): databases migrated, tenant keys restored from the survivor, ingest
nodes started under new names (the old stream names own their object keys; a fresh WAL starts at
seq 1), CRR and the audit log started afresh, and replay rebuilds the region's state from every
stream's shipped WAL, its own old streams included."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.crr.committed import committed_through
from storage.dedup.migrate import migrate_region
from storage.keys.restore import restore_tenant_keys
from storage.objectstore import open_object_store
from workers.crr_control import crr_workflows
from workers.demo_story import wait_converged
from workers.drills.scratch_databases import recreate_region_databases
from workflows.audit_ids import anchor_workflow_id

_NUMBERED = re.compile(r"^(.*?)(\d*)$")


def with_new_node_names(settings: Settings, region: str) -> Settings:
    """`settings` with each of the region's nodes under a new name on the same host and port,
    the old names added to its `lost_nodes`: n1 becomes n2, then n3 when n2 is lost too."""
    config = settings.region(region)
    taken = {node.name for node in config.nodes} | set(config.lost_nodes)
    renamed = []
    for node in config.nodes:
        name = next_node_name(node.name, taken)
        taken.add(name)
        renamed.append(node.model_copy(update={"name": name}))
    lost = [*config.lost_nodes, *(node.name for node in config.nodes)]
    changed = config.model_copy(update={"nodes": renamed, "lost_nodes": lost})
    return settings.model_copy(update={"regions": {**settings.regions, region: changed}})


def next_node_name(name: str, taken: set[str]) -> str:
    """The first name after `name` in its numbering that is not `taken` (`n1` -> `n2`)."""
    match = _NUMBERED.match(name)
    assert match is not None  # the pattern matches every string
    stem, number = match.group(1), int(match.group(2) or 1)
    while True:
        number += 1
        if f"{stem}{number}" not in taken:
            return f"{stem}{number}"


async def stop_region_workflows(client: Client, settings: Settings, region: str) -> bool:
    """Terminate the region's shippers, the replays into it and its audit anchor workflow: with
    its disks gone nothing may write into its databases until they are rebuilt, and a workflow
    started afresh afterwards reads its position from the new (empty) databases instead of
    carrying the old one over. Returns whether the anchor workflow was running."""
    for ref in crr_workflows(settings, region):
        with contextlib.suppress(RPCError):  # not running
            await client.get_workflow_handle(ref.workflow_id).terminate("region disks lost")
    anchor = client.get_workflow_handle(anchor_workflow_id(region))
    try:
        running = (await anchor.describe()).status == WorkflowExecutionStatus.RUNNING
    except RPCError:  # never started
        return False
    if running:
        await anchor.terminate("region disks lost")
    return running


async def lose_disks(settings: Settings, region: str) -> None:
    """Delete the region's WAL directory and make its databases empty."""
    config = settings.region(region)
    await asyncio.to_thread(_empty_directory, Path(config.wal_dir))
    await recreate_region_databases(config)


def _empty_directory(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


async def rebuild_control_data(settings: Settings, region: str, survivor: str) -> int:
    """Migrate the region's new databases and restore the tenant keys from the survivor's
    control database (without them no event verifies, I1); returns how many were restored."""
    config = settings.region(region)
    await migrate_region(config)
    return await restore_tenant_keys(settings.region(survivor).control_dsn, config.control_dsn)


async def wait_rebuilt(settings: Settings, live_seqs: dict[str, int]) -> float:
    """Until every region applied every live stream through `live_seqs` and each lost stream
    through what its own store holds of it; returns the seconds waited."""
    started = time.monotonic()
    for name, config in settings.regions.items():
        lost = {
            stream: await committed_through(open_object_store(config.object_store), stream)
            for stream in lost_streams_into(settings, name)
        }
        only = settings.model_copy(update={"regions": {name: config}})
        await wait_converged(only, {**live_seqs, **lost})
    return time.monotonic() - started


def lost_streams_into(settings: Settings, region: str) -> list[str]:
    """The streams of lost nodes that `region` receives."""
    return [
        str(StreamId(source, lost))
        for source, config in settings.regions.items()
        if region in config.ship_targets
        for lost in config.lost_nodes
    ]
