"""`geoledger ingest retire`: a node leaving for good (the Kubernetes preStop hook of an ingest
pod) drains, ships its last segment and marks its stream retired; see workers/node_retire.py."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from workers.node_retire import RetireError, RetireProgress, RetireReport, ShipTimeout, retire_node


def register(ingest_app: typer.Typer) -> None:
    """Add `retire` to the `ingest` command group."""
    ingest_app.command("retire")(retire)


def retire(
    region: Annotated[str, typer.Option("--region", "-r", help="Region of the node.")],
    node: Annotated[str, typer.Option(help="Name of the node that leaves.")],
    url: Annotated[
        str | None,
        typer.Option(
            help="The node's ingest API, from its own host (default: its port on 127.0.0.1)."
        ),
    ] = None,
    timeout_s: Annotated[
        float, typer.Option(help="How long to wait for the last segment to ship.")
    ] = 600.0,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Retire a node leaving for good: stop its writes (503, /healthz draining), seal its open
    segment, wait until its shipper committed it in every ship target, and mark its stream
    retired in every region. Only then may its volume go. Exit 0 retired, 1 a region could not
    be marked, 2 bad input, 3 the node did not drain, 5 not shipped within --timeout-s (all
    safe to re-run)."""
    settings = settings_from(config)
    region_config = settings.region(region) if region in settings.regions else None
    chosen = (
        next((n for n in region_config.nodes if n.name == node), None) if region_config else None
    )
    if chosen is None:
        fail(f"no node {node!r} in region {region!r}", ExitCode.BAD_INPUT)
    base = url or f"http://127.0.0.1:{chosen.port}"

    async def run(progress: Progress) -> RetireReport:
        task = progress.add_task(f"retiring {region}/{node}", total=None)

        def show(state: RetireProgress) -> None:
            progress.update(task, description=_describe(state))

        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            return await retire_node(settings, region, node, client, timeout_s, show)

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=json_output,
    ) as progress:
        try:
            report = asyncio.run(run(progress))
        except ValueError as exc:
            fail(str(exc), ExitCode.BAD_INPUT)
        except ShipTimeout as exc:
            fail(str(exc), ExitCode.PENDING)
        except RetireError as exc:
            fail(str(exc), ExitCode.UNAVAILABLE)
    if json_output:
        print_json(report.as_dict())
    else:
        committed = ", ".join(f"{t}@{s}" for t, s in sorted(report.committed.items()))
        console.print(
            f"{report.stream}: last seq {report.last_seq}, committed in {committed or '-'}; "
            f"retired in {', '.join(report.marked) or 'no region'} ({report.seconds:.1f}s)"
        )
        for where, why in sorted(report.failed.items()):
            console.print(f"[red]not marked in {where}[/red]: {why}")
    if not report.ok:
        raise typer.Exit(int(ExitCode.FAILED))


def _describe(state: RetireProgress) -> str:
    if state.step == "drain":
        return f"{state.stream}: draining"
    if state.step == "ship":
        committed = ", ".join(f"{t}@{s}" for t, s in sorted(state.committed.items()))
        return f"{state.stream}: shipping through seq {state.last_seq} ({committed})"
    return f"{state.stream}: marking retired"
