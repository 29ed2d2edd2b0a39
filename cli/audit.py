"""`geoledger audit ...`: the regions' Merkle logs - start their anchoring, watch it, read the
latest checkpoint, prove an event and verify a receipt offline, look after the witnesses and the
dead-letter queue."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from temporalio.client import Client

from cli import audit_dlq
from cli.audit_prove import prove
from cli.audit_regions import RegionOption, chosen_regions
from cli.audit_verify import verify
from cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    console,
    err_console,
    fail,
    print_json,
    settings_from,
    temporal_client,
)
from ledger.config import Settings
from storage.audit.cosigned import witnessed_note
from storage.dedup.errors import DedupError
from workers import audit_ops
from workers.audit_control import anchor_status, signal_anchor, start_audit
from workers.client import connect
from workflows.audit_ids import ANCHOR_NOW, anchor_workflow_id

audit_app = typer.Typer(
    help="Audit: each region's Merkle log of its acknowledged events, witnessed and provable.",
    no_args_is_help=True,
)
audit_app.add_typer(audit_dlq.dlq_app, name="dlq")
audit_app.command("prove")(prove)
audit_app.command("verify")(verify)

_T = TypeVar("_T")


def run(settings: Settings, work: Coroutine[Any, Any, _T]) -> _T:
    """Run `work`; a region whose database is down exits 3 naming it."""
    try:
        return asyncio.run(work)
    except (DedupError, OSError) as exc:
        fail(f"a control database is unreachable: {exc}", ExitCode.UNAVAILABLE)


@audit_app.command("start")
def start(
    region: RegionOption = None,
    restart: Annotated[
        bool, typer.Option(help="Terminate running anchor workflows and start them afresh.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Start each region's anchor workflow (`audit-anchor-<region>`); running ones are left
    alone."""
    settings = settings_from(config)
    chosen = chosen_regions(settings, region)

    async def _start() -> list[str]:
        client = await temporal_client(settings)
        started: list[str] = []
        for name in chosen:
            started += await start_audit(client, settings, name, restart=restart)
        return started

    for workflow_id in asyncio.run(_start()):
        console.print(f"  running {workflow_id}")


@audit_app.command("status")
def status(
    region: RegionOption = None, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """Per region: the latest checkpoint, the backlog, the dead-letter queue and the witnesses,
    and what the anchor workflow reports (when Temporal answers)."""
    settings = settings_from(config)
    chosen = chosen_regions(settings, region)

    async def _status() -> list[dict[str, Any]]:
        found = []
        # Status is what an operator reads during outages: without Temporal, the databases' view.
        try:
            client: Client | None = await connect(settings)
        except RuntimeError:
            client = None
        for name in chosen:
            audit = await audit_ops.region_audit(settings, name)
            anchor = None if client is None else await anchor_status(client, name)
            found.append(
                {
                    **asdict(audit),
                    "checkpoint": None
                    if audit.checkpoint is None
                    else audit.checkpoint.model_dump(mode="json"),
                    "anchor_workflow": anchor_workflow_id(name),
                    "anchor": None if anchor is None else anchor.state.model_dump(mode="json"),
                }
            )
        return found

    found = run(settings, _status())
    if json_output:
        print_json(found)
        return
    table = Table(title="audit")
    for column in ("region", "checkpoint", "backlog", "oldest s", "dlq", "witnesses", "anchor"):
        table.add_column(column, overflow="fold")
    for each in found:
        checkpoint = each["checkpoint"]
        sample = each["sample"]
        witnesses = ", ".join(
            f"{w['witness']}@{w['last_size'] if w['last_size'] is not None else '-'}"
            + (" FORK" if w["fork"] else " open" if w["circuit_open"] else "")
            for w in each["witnesses"]
        )
        anchor = each["anchor"]
        table.add_row(
            each["region"],
            "-"
            if checkpoint is None
            else f"size {checkpoint['size']} (batch {checkpoint['batch']})",
            f"{sample['backlog_segments']} segments",
            f"{sample['backlog_age_s']:.1f}",
            str(sample["dlq_size"]),
            witnesses or "-",
            "not running"
            if anchor is None
            else ("BLOCKED" if anchor["anchor_blocked"] else "running"),
        )
    console.print(table)


@audit_app.command("checkpoint")
def checkpoint(
    region: RegionOption = None, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """The latest checkpoint of each region's log: the C2SP signed note with the witnesses'
    cosignature lines. Exits 5 when a region has none yet."""
    settings = settings_from(config)
    chosen = chosen_regions(settings, region)

    async def _latest() -> list[dict[str, Any]]:
        found = []
        for name in chosen:
            async with audit_ops.control_db(settings, name) as db:
                found.append({"region": name, **(await witnessed_note(db) or {})})
        return found

    found = run(settings, _latest())
    if json_output:
        print_json(found)
    else:
        for each in found:
            if "note" in each:
                # The heading to stderr: stdout is the note alone, ready to save or pipe.
                err_console.rule(f"{each['region']}: batch {each['batch']}, size {each['size']}")
                # Byte for byte: a signed note wrapped to the terminal no longer verifies.
                sys.stdout.write(each["note"])
                sys.stdout.flush()
    missing = [each["region"] for each in found if "note" not in each]
    if missing:
        fail(f"no checkpoint yet in {', '.join(missing)}", ExitCode.PENDING)


@audit_app.command("anchor-now")
def anchor_now(region: RegionOption = None, config: ConfigOption = None) -> None:
    """Ask each region's anchor workflow to close a batch now, whatever its size or age."""
    settings = settings_from(config)
    chosen = chosen_regions(settings, region)

    async def _signal() -> list[str]:
        client = await temporal_client(settings)
        return [name for name in chosen if not await signal_anchor(client, name, ANCHOR_NOW)]

    not_running = asyncio.run(_signal())
    if not_running:
        fail(
            f"no anchor workflow runs in {', '.join(not_running)}: `geoledger audit start`",
            ExitCode.FAILED,
        )
    console.print("  asked " + ", ".join(anchor_workflow_id(n) for n in chosen))


@audit_app.command("witnesses")
def witnesses(
    region: RegionOption = None, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """Each region's witnesses: the size each last cosigned, its circuit breaker, a fork mark."""
    settings = settings_from(config)
    chosen = chosen_regions(settings, region)

    async def _states() -> list[dict[str, Any]]:
        found = []
        for name in chosen:
            async with audit_ops.control_db(settings, name) as db:
                states = await audit_ops.witness_states(settings, name, db)
            found += [{"region": name, **asdict(state)} for state in states]
        return found

    found = run(settings, _states())
    if json_output:
        print_json(found)
        return
    table = Table(title="witnesses")
    for column in ("region", "witness", "cosigned size", "failures", "breaker", "fork"):
        table.add_column(column)
    for each in found:
        table.add_row(
            each["region"],
            each["witness"],
            "-" if each["last_size"] is None else str(each["last_size"]),
            str(each["consecutive_failures"]),
            f"open until {each['open_until']:%H:%M:%S}" if each["circuit_open"] else "closed",
            each["fork"] or "-",
        )
    console.print(table)


@audit_app.command("witness-reset")
def witness_reset(
    witness: Annotated[str, typer.Argument(help="The witness's name (`[witnesses.<name>]`).")],
    region: Annotated[str, typer.Option("--region", "-r", help="Whose log it witnesses.")],
    confirm: Annotated[
        bool, typer.Option(help="Required: only after its checkpoint was compared with the log's.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Clear a witness's fork mark and circuit breaker, so the next checkpoint goes to it."""
    settings = settings_from(config)
    chosen_regions(settings, region)
    if not confirm:
        fail(
            "witness-reset clears a fork alarm: pass --confirm once you compared the "
            "witness's checkpoint with the log's (runbooks/anchoring-attestation.md)",
            ExitCode.BAD_INPUT,
        )
    try:
        cleared = run(settings, audit_ops.reset_witness(settings, region, witness))
    except KeyError as exc:
        fail(str(exc.args[0]), ExitCode.BAD_INPUT)
    console.print(f"  {witness} in {region}: {'reset' if cleared else 'had nothing to reset'}")
