"""Two regions running in the test process: an ingest node per region (the real FastAPI app over
its real WAL and dedup store) and the CRR workers (shared queue plus each node's own queue), all
against the session's embedded stack."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from api.ingest.app import create_app
from api.ingest.serve import open_node
from ledger.config import Settings
from workers.client import connect
from workers.crr_control import crr_workflows
from workers.registry import registration_for
from workflows import queues


@dataclass
class Cluster:
    settings: Settings
    client: Client
    nodes: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    async def post(self, region: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = await self.nodes[region].post("/v1/events", json={"events": events})
        assert answer.status_code == 200, answer.text
        results: list[dict[str, Any]] = answer.json()["results"]
        return results


@contextlib.asynccontextmanager
async def ingest_nodes(settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for region, config in settings.regions.items():
            node = config.nodes[0].name
            app = create_app(lambda r=region, n=node: open_node(settings, r, n))
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[region] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{region}"
                )
            )
        yield clients


@contextlib.asynccontextmanager
async def crr_workers(settings: Settings, client: Client) -> AsyncIterator[None]:
    """Workers on `geoledger-crr` and on each node's queue, with their background tasks."""
    names = [queues.CRR] + [
        queues.node_queue(region, node.name)
        for region, config in settings.regions.items()
        for node in config.nodes
    ]
    registrations = [(name, registration_for(name, settings)) for name in names]
    background = [
        asyncio.create_task(task()) for _, reg in registrations for task in reg.background
    ]
    async with contextlib.AsyncExitStack() as stack:
        for name, reg in registrations:
            await stack.enter_async_context(
                Worker(
                    client,
                    task_queue=name,
                    workflows=list(reg.workflows),
                    activities=list(reg.activities),
                    graceful_shutdown_timeout=timedelta(seconds=2),
                )
            )
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            for _, reg in registrations:
                await reg.close()


async def terminate_crr(client: Client, settings: Settings) -> None:
    """Workflow ids are fixed per stream; end them so the next test starts its own."""
    for ref in crr_workflows(settings):
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(ref.workflow_id).terminate("test finished")


@contextlib.asynccontextmanager
async def running_cluster(settings: Settings) -> AsyncIterator[Cluster]:
    client = await connect(settings)
    async with ingest_nodes(settings) as nodes, crr_workers(settings, client):
        try:
            yield Cluster(settings, client, nodes)
        finally:
            await terminate_crr(client, settings)
