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
from ledger.config import Settings, config_file_path
from storage.embedded.stack import EmbeddedStack
from workers.drills.rebuild import RebuildReport, rebuild_region
from workers.drills.region_outage import DrillPreconditionError, OutageReport, region_outage
from workers.drills.stack_processes import StackRegionProcesses

drill_app = typer.Typer(help="Drills that codify the runbooks (run against `geoledger demo`).")


@drill_app.command("region-outage")
def outage(
    region: Annotated[str, typer.Option("--region", "-r", help="Region to take down.")] = "eu",
    events: Annotated[int, typer.Option(help="Events to ingest during the outage.", min=2)] = 400,
    lose_disk: Annotated[
        bool,
        typer.Option(
            "--lose-disk",
            help="The region's disks are lost too: rebuild it under new node names, written "
            "into the configuration file.",
        ),
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Crash a region (SIGKILL its nodes and shippers) while its clients write, fail them over
    to the other region, restart it on the disks it had (or, with --lose-disk, rebuild it on
    empty ones from the shipped WALs), and measure RTO and RPO. Exit 1 when anything
    acknowledged was lost (with --lose-disk: more than was exposed at the crash), the restored
    region lacks what the survivor holds, or the regions diverged."""
    settings = settings_from(config)
    settings.region(region)

    async def run() -> OutageReport:
        client = await temporal_client(settings)
        state_dir = EmbeddedStack(settings).state_dir
        processes = StackRegionProcesses(settings, state_dir, region, config_file_path(config))
        return await region_outage(
            client,
            settings,
            state_dir,
            processes,
            region,
            events,
            say=_say(json_output),
            lose_disk=lose_disk,
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
        lost = ", disks lost" if lose_disk else ""
        table = Table(title=f"drill region-outage: {region} down{lost}, {report.survivor} serving")
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
            *_rebuild_rows(report),
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


def _rebuild_rows(report: OutageReport) -> list[tuple[str, object]]:
    """The rows that differ between a restore on the same disks and a rebuild on empty ones."""
    region, survivor = report.region, report.survivor
    if not report.lose_disk:
        return [
            (f"acknowledged events missing in {region} after restore", report.missing_in_restored)
        ]
    return [
        (f"{region} rebuilt as", ", ".join(report.nodes_after or [])),
        ("tenant keys restored from the survivor", report.tenant_keys_restored),
        ("rebuild until caught up (s)", report.rebuild_seconds),
        (f"events in {survivor} missing in rebuilt {region}", report.missing_in_restored),
    ]


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
