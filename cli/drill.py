"""`geoledger drill region-outage | replay-from-scratch`: the runbooks' drills, run for real."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    console,
    fail,
    print_json,
    settings_from,
    temporal_client,
)
from ledger.config import Settings
from storage.embedded.stack import EmbeddedStack
from workers.drills.rebuild import RebuildReport, rebuild_region
from workers.drills.region_outage import (
    DrillPreconditionError,
    OutageReport,
    StackRegionProcesses,
    region_outage,
)

drill_app = typer.Typer(help="Drills that codify the runbooks (run against `geoledger demo`).")


@drill_app.command("region-outage")
def outage(
    region: Annotated[str, typer.Option("--region", "-r", help="Region to take down.")] = "eu",
    events: Annotated[int, typer.Option(help="Events to ingest during the outage.", min=2)] = 400,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Crash a region (SIGKILL its nodes and shippers) while its clients write, fail them over
    to the other region, restart it on the disks it had, and measure RTO and RPO. Exit 1 when
    anything acknowledged was lost or the regions diverged."""
    settings = settings_from(config)
    settings.region(region)

    async def run() -> OutageReport:
        client = await temporal_client(settings)
        state_dir = EmbeddedStack(settings).state_dir
        processes = StackRegionProcesses(settings, state_dir, region)
        return await region_outage(
            client, settings, state_dir, processes, region, events, say=_say(json_output)
        )

    try:
        report = asyncio.run(run())
    except DrillPreconditionError as exc:
        fail(str(exc), ExitCode.UNAVAILABLE)
    except TimeoutError as exc:
        fail(f"regions did not converge: {exc}", ExitCode.FAILED)
    if json_output:
        print_json(report.as_dict())
    else:
        table = Table(title=f"drill region-outage: {region} down, {report.survivor} serving")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for name, value in (
            ("events sent", report.events_sent),
            ("events acknowledged", report.accepted),
            (f"acknowledged by {region} before the crash", report.acked_before_kill),
            (f"of those not yet in {report.survivor} at the crash", report.exposed_at_kill),
            ("batches failed over", report.failovers),
            ("RTO: crash to first failover acknowledgement (s)", report.rto_seconds),
            ("outage until restarted (s)", report.outage_seconds),
            ("converged after restore (s)", report.converge_seconds),
            (f"RPO: acknowledged events missing in {report.survivor}", report.rpo_events),
            (f"acknowledged events missing in {region} after restore", report.missing_in_restored),
            ("divergent keys", report.divergent_keys),
        ):
            table.add_row(name, str(value))
        console.print(table)
        console.print("[green]passed[/green]" if report.ok else "[red]failed[/red]")
    if not report.ok:
        raise typer.Exit(int(ExitCode.FAILED))


@drill_app.command("replay-from-scratch")
def replay_from_scratch(
    region: Annotated[str, typer.Option("--region", "-r", help="Region to rebuild.")],
    keep: Annotated[bool, typer.Option(help="Keep the scratch databases afterwards.")] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Rebuild the region's dedup state from the segments shipped to its store, into scratch
    databases, and compare it with the live state. Exit 1 on any difference or gap, or when the
    store lacks records the live region had applied when the drill began (after a short wait for
    segments still being shipped): see `geoledger crr repair-store`."""
    settings = settings_from(config)
    settings.region(region)
    report = asyncio.run(_rebuild(settings, region, keep, json_output))
    if json_output:
        print_json(report.as_dict())
    else:
        table = Table(title=f"drill replay-from-scratch: {region} ({report.seconds}s)")
        for column in ("stream", "rebuilt seq", "live seq", "compared", "records", "differing"):
            table.add_column(column, justify="right")
        for stream in report.streams:
            table.add_row(
                stream.stream,
                str(stream.rebuilt_seq),
                str(stream.live_seq),
                f"1..{stream.compared_through}",
                str(stream.records_compared),
                str(stream.differing)
                + (f" (gap at {stream.gap_at_seq})" if stream.gap_at_seq else "")
                + (
                    f" ({stream.missing_from_store} applied seqs not in the store)"
                    if stream.missing_from_store
                    else ""
                ),
            )
        console.print(table)
        console.print(
            f"{report.segments} segments, {report.records} records verified and applied; "
            + ("[green]passed[/green]" if report.ok else "[red]failed[/red]")
        )
    if not report.ok:
        raise typer.Exit(int(ExitCode.FAILED))


async def _rebuild(settings: Settings, region: str, keep: bool, quiet: bool) -> RebuildReport:
    if quiet:
        return await rebuild_region(settings, region, keep)
    with console.status("rebuilding from shipped segments") as status:

        def progress(stream: str, seq: int) -> None:
            status.update(f"rebuilding {region}: {stream} through seq {seq}")

        return await rebuild_region(settings, region, keep, progress)


def _say(quiet: bool) -> Callable[[str], None]:
    def say(line: str) -> None:
        if not quiet:
            console.print(f"  {line}", highlight=False)

    return say
