"""`geoledger ingest serve | send`."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.ingest.batch import MAX_BODY_BYTES, MAX_EVENTS
from cli.common import ConfigOption, ExitCode, JsonOption, console, fail, print_json, settings_from
from ledger.errors import EventSchemaError
from ledger.events_file import batches

ingest_app = typer.Typer(help="The ingest API: serve a node, send events to one, retire one.")

RETRIES = 5


@ingest_app.command("serve")
def serve(
    region: Annotated[str, typer.Option("--region", "-r", help="Region of this node.")],
    node: Annotated[
        str | None, typer.Option(help="Node name (default: the region's first).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default from config).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default from config).")] = None,
    config: ConfigOption = None,
) -> None:
    """Run one ingest node: it owns the WAL stream `<region>/<node>`. A read of a body whose
    cold pack is archived starts the pack's RestoreWorkflow through Temporal ([temporal])."""
    from api.ingest.serve import run_node
    from storage.telemetry.json_logs import configure_logging
    from workers.tier_restore import TemporalRestores

    settings = settings_from(config)
    region_config = settings.region(region)
    chosen = next((n for n in region_config.nodes if node in (None, n.name)), None)
    if chosen is None:
        fail(
            f"region {region} has no node {node!r}; configured: "
            f"{[n.name for n in region_config.nodes]}",
            ExitCode.BAD_INPUT,
        )
    configure_logging(settings.logging)
    run_node(
        settings,
        region,
        chosen.name,
        host or chosen.host,
        port or chosen.port,
        # The node has no Temporal client of its own: this one connects on the first read of
        # an archived body, so a node without Temporal serves everything else as before.
        TemporalRestores(settings),
    )


@ingest_app.command("send")
def send(
    source: Annotated[Path, typer.Argument(help="Newline-delimited signed events.")],
    region: Annotated[str, typer.Option("--region", "-r", help="Region to send to.")],
    url: Annotated[
        str | None, typer.Option(help="Node URL (default: region's first node).")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Post the events in batches with a progress bar; retries 5xx and timeouts with the same
    events (the server deduplicates). Exit 1 when any event was rejected."""
    settings = settings_from(config)
    first = settings.region(region).nodes[0]
    base = url or f"http://{first.host}:{first.port}"
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
        groups = list(batches(lines, MAX_EVENTS, MAX_BODY_BYTES))
    except OSError as exc:
        fail(f"{source}: {exc}", ExitCode.BAD_INPUT)
    except EventSchemaError as exc:
        fail(f"{source}: {exc}", ExitCode.BAD_INPUT)
    tally: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    started = time.monotonic()
    with (
        httpx.Client(base_url=base, timeout=30) as client,
        Progress(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=json_output,
        ) as progress,
    ):
        task = progress.add_task("events", total=sum(len(g) for g in groups))
        for group in groups:
            for result in _post(client, group):
                tally[result["status"]] += 1
                if result.get("reason"):
                    reasons[result["reason"]] += 1
            progress.advance(task, len(group))
    elapsed = time.monotonic() - started
    summary = {
        "url": base,
        "seconds": round(elapsed, 3),
        "results": dict(tally),
        "reasons": dict(reasons),
    }
    if json_output:
        print_json(summary)
    else:
        table = Table(title=f"sent to {base} in {elapsed:.1f}s")
        table.add_column("result")
        table.add_column("events", justify="right")
        for status, count in sorted(tally.items()):
            table.add_row(status, str(count))
        for reason, count in sorted(reasons.items()):
            table.add_row(f"  rejected: {reason}", str(count))
        console.print(table)
    if tally["rejected"]:
        raise typer.Exit(int(ExitCode.FAILED))


def _post(client: httpx.Client, group: list[str]) -> list[dict[str, str]]:
    body = ('{"events":[' + ",".join(group) + "]}").encode("utf-8")
    delay = 0.2
    for attempt in range(1, RETRIES + 1):
        try:
            answer = client.post(
                "/v1/events", content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError as exc:
            if attempt == RETRIES:
                fail(f"{client.base_url}: {exc}", ExitCode.UNAVAILABLE)
        else:
            if answer.status_code == 200:
                results: list[dict[str, str]] = answer.json()["results"]
                return results
            if answer.status_code < 500 and answer.status_code != 429:
                error = answer.json().get("error", {})
                code, message = error.get("code"), error.get("message")
                fail(
                    f"batch refused ({answer.status_code} {code}): {message}",
                    ExitCode.BAD_INPUT,
                )
            if attempt == RETRIES:
                fail(
                    f"{client.base_url}: HTTP {answer.status_code} after {RETRIES} attempts",
                    ExitCode.UNAVAILABLE,
                )
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")
