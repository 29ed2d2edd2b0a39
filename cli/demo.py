"""`geoledger demo`: the main job on the embedded stack, told as a story.

Both regions ingest signed events, CRR ships and replays both ways, the regions converge; the
demo tenant's bodies are demoted into all three tiers (a first batch to cold, a second to warm, a
third stays hot) and get their demotion schedule; the divergence check finds nothing; every
record is anchored in its region's Merkle log and witnessed by the other region, and one event is
proven and its receipt verified offline; us's dedup ring is re-sharded online while both regions
ingest, the cutover approved by a signal (or by a person in the web UI, `--wait-for-ui`); the
stack and its processes keep running for the web UI.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.table import Table
from temporalio.client import Client

from cli import demo_migrate
from cli.common import ConfigOption, ExitCode, console, fail, settings_from, temporal_client
from cli.tier_status import print_status
from ledger.config import Settings
from ledger.keys import key_id_for
from ledger.stream_id import StreamId
from storage.embedded.errors import StackError
from storage.embedded.stack import EmbeddedStack
from workers import demo_audit, demo_story, demo_tiers
from workers.audit_control import start_audit
from workers.crr_control import start_crr
from workers.geo_check import run_geo_check
from workers.smoke import run_smoke, smoke_workflow_id
from workflows.audit_ids import anchor_workflow_id
from workflows.demotion import demotion_workflow_id

EVENTS_PER_REGION = {"us": 2000, "eu": 1500}
# The later batches, which end in warm and hot: small, the tiers only need to be seen.
LATER_EVENTS_PER_REGION = {"us": 200, "eu": 150}


def demo(
    config: ConfigOption = None,
    wait_for_ui: Annotated[
        bool,
        typer.Option(
            "--wait-for-ui",
            help="Wait for a person to approve the re-sharding's cutover in the web UI.",
        ),
    ] = False,
) -> None:
    """Run the whole story on the embedded stack and print where to watch it."""
    settings = settings_from(config)
    console.rule("1. embedded stack")
    try:
        stack = EmbeddedStack(settings)
        parts = stack.up()
    except StackError as exc:
        fail(str(exc), ExitCode.UNAVAILABLE)
    for name, part in parts.items():
        console.print(f"  {name:<12} {part.endpoint}")
    try:
        asyncio.run(_story(settings, stack.state_dir, config, wait_for_ui))
    except TimeoutError as exc:
        fail(f"{exc}; logs are under {stack.state_dir / 'apps'}", ExitCode.FAILED)


async def _story(
    settings: Settings, state_dir: Path, config: Path | None, wait_for_ui: bool
) -> None:
    console.rule("2. schema, tenant key, ingest nodes and workers")
    await demo_story.migrate_all(settings)
    private_key = await demo_story.ensure_demo_tenant(settings, state_dir)
    for name in demo_story.start_processes(settings, state_dir, config):
        console.print(f"  running {name}")
    await asyncio.to_thread(demo_story.wait_for_nodes, settings)
    client = await temporal_client(settings)

    console.rule("3. smoke workflow: an object written and read in each region's store")
    smoke_id = smoke_workflow_id()
    smoke = await run_smoke(client, settings, smoke_id)
    for trip in smoke.round_trips:
        console.print(f"  {trip.region}: {trip.store}/{trip.key} ({trip.bytes} bytes) ok")

    console.rule("4. both regions ingest signed events; CRR ships and replays both ways")
    await start_crr(client, settings)
    # From the first event: every acknowledged record goes into its region's Merkle log.
    await start_audit(client, settings)
    tally = demo_story.IngestTally()
    run = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    await _ingest(settings, private_key, run, EVENTS_PER_REGION, tally)

    console.rule("5. tiering: bodies demoted hot -> warm -> cold on a clock set days ahead")
    policy = demo_tiers.file_policy(settings, demo_story.DEMO_TENANT)
    await demo_tiers.compress_bodies(settings, demo_story.DEMO_TENANT)
    await _demote(client, settings, "to cold", demo_tiers.past_warm_ttl_ms(policy))
    await _ingest(settings, private_key, f"{run}-warm", LATER_EVENTS_PER_REGION, tally)
    await _demote(client, settings, "to warm", demo_tiers.past_hot_ttl_ms(policy))
    await _ingest(settings, private_key, f"{run}-hot", LATER_EVENTS_PER_REGION, tally)
    created = await demo_tiers.schedule_demotion(client, settings, demo_story.DEMO_TENANT)
    schedule_id = demotion_workflow_id(demo_story.DEMO_TENANT)
    console.print(f"  schedule {schedule_id} {'created' if created else 'updated'}")
    console.print(f"  $ geoledger tier status --tenant {demo_story.DEMO_TENANT}")
    print_status(await demo_tiers.status_of(client, settings, demo_story.DEMO_TENANT))

    console.rule("6. geo-divergence check")
    geo = await run_geo_check(client)
    console.print(f"  divergent keys: {geo.differing_keys} (workflow {geo.workflow_id})")

    console.rule("7. audit: every record in its region's Merkle log, cosigned by the other region")
    await _audit(settings, state_dir, tally, run)

    console.rule("8. re-sharding: us's dedup ring changes size online while both regions ingest")
    await demo_migrate.reshard(client, settings, private_key, run, wait_for_ui)

    _print_summary(await demo_story.summarize(client, settings, tally))
    ui = f"{settings.temporal.ui_url}/namespaces/{settings.temporal.namespace}/workflows"
    console.rule("done")
    # Links on one line whatever the terminal's width, so they can be copied whole.
    console.print(f"Temporal web UI: {ui}", soft_wrap=True)
    console.print(f"  smoke run:     {_query(ui, f'WorkflowId = {smoke_id!r}')}", soft_wrap=True)
    schedules = f"{settings.temporal.ui_url}/namespaces/{settings.temporal.namespace}/schedules"
    console.print(f"  tier schedule: {schedules}/{schedule_id}", soft_wrap=True)
    # The UI opens a workflow by id and run id; a list query finds it by id alone.
    audit = _query(ui, 'WorkflowId STARTS_WITH "audit-"')
    anchors = ", ".join(map(anchor_workflow_id, settings.regions))
    console.print(f"  audit logs:    {audit} ({anchors})", soft_wrap=True)
    migrations = _query(ui, 'WorkflowId STARTS_WITH "dedup-migrate-"')
    console.print(f"  re-shardings:  {migrations}", soft_wrap=True)
    console.print("The stack, nodes and workers keep running; `make down` stops them all.")


def _query(ui: str, query: str) -> str:
    """The web UI's workflow list filtered by a visibility query."""
    return f"{ui}?query={quote(query)}"


async def _ingest(
    settings: Settings,
    private_key: Ed25519PrivateKey,
    prefix: str,
    counts: dict[str, int],
    tally: demo_story.IngestTally,
) -> None:
    """Send each region its events (ids starting with `prefix`) and wait until every region has
    applied every stream."""
    key_id = key_id_for(private_key.public_key())
    for region, count in counts.items():
        if region not in settings.regions:
            continue
        node = settings.region(region).nodes[0]
        lines = demo_story.demo_events(private_key, key_id, prefix, region, count)
        with console.status(f"sending {len(lines)} events to {region}"):
            results = await demo_story.send(f"http://{node.host}:{node.port}", lines)
        tally.add(region, str(StreamId(region, node.name)), results)
        console.print(f"  {region}: {dict(tally.by_region[region])}")
    with console.status("waiting for every region to apply every stream"):
        waited = await demo_story.wait_converged(settings, tally.last_seq)
    console.print(f"  converged {waited:.1f}s after the last acknowledgement")


async def _audit(
    settings: Settings, state_dir: Path, tally: demo_story.IngestTally, run: str
) -> None:
    with console.status("waiting for each region's log to be anchored and witnessed"):
        sizes = demo_audit.records_per_region(settings, tally.last_seq)
        notes = await demo_audit.wait_witnessed(settings, sizes)
    for region, note in notes.items():
        origin, root = settings.audit.origin(region), note["root_hex"][:16]
        console.print(
            f"  {origin}: size {note['size']}, root {root}..., "
            f"cosigned by {', '.join(note['witnesses'])}"
        )
    event_id = f"{run}-us-0"
    console.print(f"  $ geoledger audit prove {demo_story.DEMO_TENANT} {event_id} --out ...")
    verified = await demo_audit.prove_and_verify(
        settings, demo_story.DEMO_TENANT, event_id, state_dir
    )
    console.print(f"  receipt: {verified.path}")
    console.print(
        "  $ geoledger audit verify " + " ".join(verified.command[3:]),
        markup=False,
        highlight=False,
        soft_wrap=True,  # one line, to copy whole
    )
    output = verified.output
    console.print(
        f"  verified offline: leaf {output.leaf_index} of {output.origin} at size "
        f"{output.size}, cosigned by {', '.join(output.witnesses)}"
    )


async def _demote(client: Client, settings: Settings, what: str, as_of_ms: int) -> None:
    as_of = datetime.fromtimestamp(as_of_ms / 1000, UTC).strftime("%Y-%m-%d")
    with console.status(f"demoting {what} (as of {as_of})"):
        status = await demo_tiers.demote(client, settings, demo_story.DEMO_TENANT, as_of_ms)
    totals = status.totals
    console.print(
        f"  {demotion_workflow_id(demo_story.DEMO_TENANT)} as of {as_of}: {totals.to_warm} "
        f"bodies to warm, {totals.to_cold} to cold in {totals.packs} pack(s)"
    )


def _print_summary(summary: demo_story.DemoSummary) -> None:
    table = Table(title="geoledger demo summary")
    columns = ("region", "ingested", "replayed", "duplicates", "conflicts", "lag s", "events")
    for column in columns:
        table.add_column(column, justify="right")
    for region in summary.regions:
        table.add_row(
            region.region,
            str(region.ingested),
            str(region.replayed),
            str(region.duplicates),
            str(region.conflicts),
            f"{region.lag_seconds:.2f}",
            str(region.events),
        )
    console.print(table)
    raw, packed = summary.raw_bytes_shipped, summary.compressed_bytes_shipped
    ratio = raw / packed if packed else 0.0
    console.print(
        f"shipped: {summary.streams_shipped} streams, {raw:,} raw bytes, {packed:,} compressed "
        f"(compression ratio {ratio:.1f}x)"
    )
