"""`geoledger worker run --queue NAME`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cli.common import ConfigOption, ExitCode, fail, settings_from
from storage.telemetry.json_logs import configure_logging
from workers.registry import registration_for
from workers.run import run_worker

worker_app = typer.Typer(help="Temporal workers.")


@worker_app.command("run")
def run(
    queue: Annotated[str, typer.Option("--queue", "-q", help="Task queue to poll.")],
    metrics_port: Annotated[
        int | None, typer.Option(help="Port of /metrics (default from the configuration).")
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Listen address of /metrics (0.0.0.0 to be scraped from outside).")
    ] = "127.0.0.1",
    build_id: Annotated[
        str | None,
        typer.Option(
            "--build-id",
            help="Report this build of the queue's worker deployment (worker versioning; "
            "default: [deployment] build_id, versioning off while empty).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Poll one task queue until SIGTERM, then drain gracefully."""
    settings = settings_from(config)
    try:
        registration_for(queue, settings)
    except KeyError as exc:
        fail(str(exc.args[0]), ExitCode.BAD_INPUT)
    configure_logging(settings.logging)
    asyncio.run(run_worker(settings, queue, metrics_port, metrics_host, build_id or None))
