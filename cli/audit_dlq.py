"""`geoledger audit dlq list | show | replay | purge`: audit tasks that exhausted their retries."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.audit_regions import RegionOption, chosen_regions
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
from ledger.audit_models import DlqEntry
from storage.audit import dlq_get, dlq_list, dlq_purge
from storage.audit.errors import DlqEntryNotFound, DlqStateError
from workers.audit_dlq import ReplayRefused, replay_entry
from workers.audit_ops import control_db

dlq_app = typer.Typer(
    help="The audit dead-letter queue: tasks that exhausted their retry policy.",
    no_args_is_help=True,
)
EntryArgument = Annotated[int | None, typer.Argument(help="The entry's id (`dlq list`).")]


def _row(region: str, entry: DlqEntry) -> dict[str, Any]:
    return {"region": region, **entry.model_dump(mode="json")}


@dlq_app.command("list")
def list_(
    region: RegionOption = None,
    all_states: Annotated[
        bool, typer.Option("--all", help="Replayed and purged entries too.")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Open entries (with --all: every entry), oldest first."""
    settings = settings_from(config)

    async def _list() -> list[dict[str, Any]]:
        rows = []
        for name in chosen_regions(settings, region):
            async with control_db(settings, name) as db:
                entries = await dlq_list(db, state=None if all_states else "open", limit=1000)
            rows += [_row(name, entry) for entry in entries]
        return rows

    rows = asyncio.run(_list())
    if json_output:
        print_json(rows)
        return
    table = Table(title="audit dead-letter queue")
    for column in ("region", "id", "task", "key", "attempts", "last failure", "state", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["region"],
            str(row["id"]),
            row["task_type"],
            row["idempotency_key"],
            str(row["attempts"]),
            row["last_failure"],
            row["state"],
            row["error"][:60],
        )
    console.print(table if rows else "  the dead-letter queue is empty")


@dlq_app.command("show")
def show(
    entry_id: Annotated[int, typer.Argument(help="The entry's id (`dlq list`).")],
    region: RegionOption = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """One entry in full: its task's input, the last error, the attempts and its workflow."""
    settings = settings_from(config)

    async def _find() -> list[dict[str, Any]]:
        found = []
        for name in chosen_regions(settings, region):
            async with control_db(settings, name) as db:
                entry = await dlq_get(db, entry_id)
            if entry is not None:
                found.append(_row(name, entry))
        return found

    found = asyncio.run(_find())
    if not found:
        fail(f"no DLQ entry {entry_id}", ExitCode.BAD_INPUT)
    if len(found) > 1:
        fail(f"entry {entry_id} exists in several regions: pass --region", ExitCode.BAD_INPUT)
    if json_output:
        print_json(found[0])
        return
    for field, value in found[0].items():
        console.print(f"  {field:<16} {value}", markup=False, highlight=False)


@dlq_app.command("replay")
def replay(
    entry_id: EntryArgument = None,
    every: Annotated[bool, typer.Option("--all", help="Every open entry.")] = False,
    region: RegionOption = None,
    config: ConfigOption = None,
) -> None:
    """Enqueue the entry's task again (idempotent) and mark it replayed; fix the fault first."""
    settings = settings_from(config)
    if (entry_id is None) == (not every):
        fail("give an entry id or --all", ExitCode.BAD_INPUT)

    async def _replay() -> tuple[list[str], list[str]]:
        client = await temporal_client(settings)
        done, refused = [], []
        for name in chosen_regions(settings, region):
            async with control_db(settings, name) as db:
                entries = (
                    await dlq_list(db, state="open", limit=1000)
                    if every
                    else [e for e in [await dlq_get(db, entry_id or 0)] if e is not None]
                )
            for entry in entries:
                try:
                    await replay_entry(client, settings, name, entry.id)
                except ReplayRefused as exc:
                    refused.append(f"{name} #{entry.id}: {exc}")
                else:
                    done.append(f"{name} #{entry.id} {entry.task_type} {entry.idempotency_key}")
        return done, refused

    done, refused = asyncio.run(_replay())
    for line in done:
        console.print(f"  replayed {line}")
    if refused:
        fail("; ".join(refused), ExitCode.FAILED)
    if not done and not every:
        fail(f"no DLQ entry {entry_id}", ExitCode.BAD_INPUT)


@dlq_app.command("purge")
def purge(
    entry_id: Annotated[int, typer.Argument(help="The entry's id (`dlq list`).")],
    region: Annotated[str, typer.Option("--region", "-r", help="The entry's region.")],
    reason: Annotated[str, typer.Option(help="Why the task is given up (kept with the entry).")],
    confirm: Annotated[
        bool, typer.Option(help="Required: a purged task is never anchored by the queue.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Give up on an entry: it stays in the queue as purged, with who and why (an audit record
    of the purge itself)."""
    settings = settings_from(config)
    chosen_regions(settings, region)
    if not confirm:
        fail("purge gives up on an audit task: pass --confirm", ExitCode.BAD_INPUT)

    async def _purge() -> DlqEntry:
        async with control_db(settings, region) as db:
            return await dlq_purge(db, entry_id, operator=getpass.getuser(), reason=reason)

    try:
        entry = asyncio.run(_purge())
    except (DlqEntryNotFound, DlqStateError) as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    console.print(f"  purged {region} #{entry.id} by {entry.purged_by}: {entry.purge_reason}")
