"""Starting a tenant's RestoreWorkflow when a read meets an archived pack: once per pack and region
while it runs (workflow id `tier-restore-<region>-<tenant>-<pack_id>`, conflict policy
USE_EXISTING: a second read finds the running restore; reuse allowed once it ended, so an expired
copy is restored again).

`TemporalRestores` is what an ingest node holds: it connects to Temporal on the first archived
read, not when the node opens, so a node serves every other request whether or not Temporal is
up, and a tenant without archive classes never needs it.
"""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from activities.tiering_models import RestorePackInput
from ledger.config import Settings
from workers.client import connect
from workers.tier_demote import tenant_attributes
from workflows import queues
from workflows.restore import RestoreWorkflow, restore_workflow_id


async def start_restore(
    client: Client,
    settings: Settings,
    tenant: str,
    region: str,
    pack_id: str,
    task_queue: str = queues.TIERING,
) -> str:
    """Start (or find running) the restore of `tenant`'s pack `pack_id` in `region`; its run
    id. Raises RPCError as it comes."""
    restore = settings.tier_restore
    handle = await client.start_workflow(
        RestoreWorkflow.run,
        RestorePackInput(
            tenant=tenant,
            region=region,
            pack_id=pack_id,
            days=restore.days,
            poll_interval_s=restore.poll_interval_s,
        ),
        id=restore_workflow_id(region, tenant, pack_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=tenant_attributes(tenant),
    )
    return handle.result_run_id or ""


class TemporalRestores:
    """Starts restores through one Temporal client, connected on first use."""

    def __init__(self, settings: Settings, task_queue: str = queues.TIERING) -> None:
        self._settings = settings
        self._task_queue = task_queue
        self._client: Client | None = None
        self._connecting = asyncio.Lock()

    async def start(self, tenant: str, region: str, pack_id: str) -> None:
        """Start (or find running) the restore of `tenant`'s pack `pack_id` in `region`."""
        client = await self._connected()
        await start_restore(client, self._settings, tenant, region, pack_id, self._task_queue)

    async def _connected(self) -> Client:
        async with self._connecting:
            if self._client is None:
                self._client = await connect(self._settings)
            return self._client
