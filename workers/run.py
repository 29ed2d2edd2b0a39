"""`geoledger worker run --queue NAME`: one worker that stops gracefully on SIGTERM / SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.worker import Worker

from ledger.config import Settings
from storage.embedded.process import free_port
from workers.client import connect
from workers.deployment import (
    deployment_config,
    metric_tags,
    versioned_workflows,
    worker_version,
)
from workers.metrics import serve_metrics
from workers.registry import registration_for

log = logging.getLogger("geoledger.worker")

GRACEFUL_SHUTDOWN = timedelta(seconds=30)


async def run_worker(
    settings: Settings,
    queue: str,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    build_id: str | None = None,
) -> None:
    """Poll `queue` until SIGTERM or SIGINT, then let running activities finish. `/metrics` is
    served on `metrics_host` (0.0.0.0 in a container, for a scraper in another one). With a build
    id (`build_id`, else [deployment] build_id) the worker is versioned (workers/deployment.py)."""
    registration = registration_for(queue, settings)
    version = worker_version(settings.deployment, queue, build_id)
    sdk_address = f"127.0.0.1:{free_port()}"
    client = await connect(settings, sdk_address, sdk_metric_tags=metric_tags(version))
    port = serve_metrics(
        settings.temporal.worker_metrics_port if metrics_port is None else metrics_port,
        sdk_address,
        metrics_host,
    )
    log.info("worker for %s: metrics on http://%s:%d/metrics", queue, metrics_host, port)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=versioned_workflows(registration.workflows, version),
        activities=list(registration.activities),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        max_heartbeat_throttle_interval=timedelta(seconds=2),
        deployment_config=deployment_config(version),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    background = [asyncio.create_task(task()) for task in registration.background]
    try:
        async with worker:
            at = f" as {version.deployment_name}:{version.build_id}" if version else ""
            print(f"worker polling {queue} on {settings.temporal.address}{at}", flush=True)
            await stop.wait()
            log.info("signal received: draining %s", queue)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await registration.close()
    print(f"worker for {queue} stopped", flush=True)
