"""bench_audit's anchoring figure: ack -> leaf in a cosigned checkpoint, at twice the demo's
ingest rate in both regions, on the whole embedded stack.

Processes, as a deployment runs them: both regions' ingest nodes (`geoledger ingest serve`), the
CRR workers (the shared queue and each node's), the audit worker (`geoledger worker run --queue
geoledger-audit`) and both witnesses (`geoledger witness serve`); each region's log is witnessed
by the other region's witness, as on the embedded stack.

1. The demo's ingest rate, measured first in the same run: the demo's 2,000 us events posted to
   us's node in batches of 250, each when the last was answered (tests/support/demo_load.py,
   what workers.demo_story.send does), events/s.
2. Per batch age (the demo's [audit] batch_max_age_s, 2.0 s, then `--scaled-age`): each region's
   anchor workflow is restarted with that age; both nodes take twice the demo's rate for
   `--window` seconds (batches of 250 on a fixed schedule). Each batch's ack time is taken at
   the client; each region's largest cosigned checkpoint size (audit_checkpoints with a row in
   audit_cosignatures) is polled every POLL_S. A leaf's latency is from its ack to the first poll
   whose cosigned size exceeds its index. p50 / p99 / max over every leaf of both regions, next
   to the batch age (the floor: a batch waits that long for more leaves) and the target: p99
   within the SLO's budget scaled like the batch age (the default 300 s is 1/12 of the 1 h SLO,
   so 12 x the batch age).
3. When a target is missed, the audit worker is restarted under cProfile and that batch age's
   window is run once more; the profile's summary (cumulative time, the audit code first) is
   printed and written next to the stats file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import multiprocessing
import os
import pstats
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from cli.demo import EVENTS_PER_REGION
from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.embedded.process import free_port
from storage.keys import KeyRegistry
from tests.perf._stack import (
    BenchFailure,
    BenchStack,
    Subprocess,
    bench_tenant,
    log_says,
    percentile,
    sign_parallel,
    start_geoledger,
    start_process,
    verdict,
    wait_for,
)
from tests.support.cluster import terminate_crr
from tests.support.demo_load import DEMO_BATCH, LoadRun, demo_rate, paced
from tests.support.isolated import with_own_prefixes
from workers.audit_control import start_audit
from workers.client import connect
from workers.crr_control import start_crr
from workflows import queues
from workflows.audit_ids import anchor_workflow_id

POLL_S = 0.1
# The default batch age's share of the SLO's hour: 300 s of 3600 s.
SLO_OVER_BATCH_AGE = 3600.0 / 300.0
COVER_TIMEOUT_S = 120.0
# A worker stopping lets its running activities finish: a discovery waits up to discover_wait_s.
STOP_TIMEOUT_S = 60.0
# Below this share of the asked rate a region's node did not take twice the demo's ingest.
ACHIEVED_SHARE = 0.9
AUDIT_WORKER = "worker-audit"
PROFILED_WORKER = Path(__file__).with_name("profiled_worker.py")
SELECT_COSIGNED_SIZE = """
SELECT coalesce(max(c.size), 0) FROM audit_checkpoints c
WHERE EXISTS (SELECT 1 FROM audit_cosignatures s WHERE s.batch = c.batch)
"""
SELECT_INDEXES = "SELECT seq, idx FROM audit_leaves WHERE stream = $1 AND seq = ANY($2::bigint[])"


@dataclass
class Rig:
    """The running processes and what drives them."""

    stack: BenchStack
    settings: Settings
    client: Client
    ports: dict[str, int]
    processes: dict[str, Subprocess]
    signer: ProcessPoolExecutor

    def stream(self, region: str) -> str:
        return str(StreamId(region, self.settings.region(region).nodes[0].name))

    def url(self, region: str) -> str:
        return f"http://127.0.0.1:{self.ports[region]}"


@dataclass(frozen=True)
class Anchored:
    """One batch age's run: the rate each region took and every leaf's latency."""

    batch_age_s: float
    achieved: dict[str, float]
    latencies: list[float]


# --- processes ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def whole_stack() -> AsyncIterator[BenchStack]:
    """The whole embedded stack, started and stopped in a thread: it provisions its databases
    with asyncio.run, which cannot run inside this event loop."""
    stack = BenchStack(postgres_only=False)
    await asyncio.to_thread(stack.__enter__)
    try:
        yield stack
    finally:
        await asyncio.to_thread(stack.__exit__)


def http_answers(url: str) -> Callable[[], bool]:
    """True once anything answers HTTP at `url` (a witness has no health route)."""

    def probe() -> bool:
        try:
            httpx.get(url, timeout=2)
        except httpx.HTTPError:
            return False
        return True

    return probe


def start_profiled_worker(
    queue: str, env: dict[str, str], log_dir: Path, stats: Path
) -> Subprocess:
    """The worker of `queue` under cProfile (tests/perf/profiled_worker.py), named AUDIT_WORKER."""
    command = [sys.executable, str(PROFILED_WORKER), str(stats), queue]
    return start_process(AUDIT_WORKER, command, env, log_dir)


@contextlib.asynccontextmanager
async def running_rig(
    stack: BenchStack, tag: str, batch_age_s: float, profile_to: Path | None = None
) -> AsyncIterator[Rig]:
    """Regions of their own (`tag`), every process started for them, and each region's anchor
    workflow started with `batch_age_s`; with `profile_to`, the audit worker runs under cProfile
    and is stopped with SIGINT so that it writes its stats there.

    Each batch age gets a rig of its own: an anchor workflow started again over an existing log
    numbers its batches from 1 again and sends an old checkpoint to witnesses that hold a newer
    one, which they refuse as a fork.
    """
    regions = {
        name: with_own_prefixes(await stack.fresh_region(name, f"{tag}_{name}"), tag)
        for name in ("us", "eu")
    }
    audit = stack.settings.audit.model_copy(update={"batch_max_age_s": batch_age_s})
    settings = stack.with_regions(regions).model_copy(update={"audit": audit})
    async with await KeyRegistry.open(settings) as registry:
        await registry.create("bench", bench_tenant("bench").private_key.public_key())
    env, logs = stack.env_for(settings), stack.root / "logs" / tag
    ports = {region: free_port() for region in regions}
    processes: dict[str, Subprocess] = {}
    for region, config in regions.items():
        node = config.nodes[0].name
        processes[f"ingest-{region}"] = start_geoledger(
            f"ingest-{region}",
            ["ingest", "serve", "--region", region, "--node", node, "--port", str(ports[region])],
            env,
            logs,
        )
    for name in settings.witnesses:
        processes[name] = start_geoledger(name, ["witness", "serve", "--name", name], env, logs)
    for queue in (queues.CRR, *(queues.node_queue(r, c.nodes[0].name) for r, c in regions.items())):
        processes[queue] = start_geoledger(
            queue, ["worker", "run", "--queue", queue, "--metrics-port", "0"], env, logs
        )
    processes[AUDIT_WORKER] = (
        start_geoledger(
            AUDIT_WORKER,
            ["worker", "run", "--queue", queues.AUDIT, "--metrics-port", "0"],
            env,
            logs,
        )
        if profile_to is None
        else start_profiled_worker(queues.AUDIT, env, logs, profile_to)
    )
    # spawn, not fork: this process runs Temporal client threads.
    signer = ProcessPoolExecutor(
        os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn")
    )
    rig = Rig(stack, settings, await connect(settings), ports, processes, signer)
    try:
        for region in regions:
            wait_for(processes[f"ingest-{region}"], http_answers(f"{rig.url(region)}/healthz"))
        for name, witness in settings.witnesses.items():
            wait_for(processes[name], http_answers(f"http://127.0.0.1:{witness.port}/"))
        for process in processes.values():
            if process.name.startswith(queues.CRR) or process.name == AUDIT_WORKER:
                wait_for(process, log_says(process, "worker polling"))
        await start_crr(rig.client, settings)
        await start_audit(rig.client, settings)
        yield rig
    finally:
        # Their ids are fixed per region and stream: the next rig starts its own.
        await terminate_crr(rig.client, settings)
        for region in regions:
            with contextlib.suppress(RPCError):
                await rig.client.get_workflow_handle(anchor_workflow_id(region)).terminate()
        signer.shutdown(cancel_futures=True)
        # SIGINT first: under cProfile the worker then writes its stats as it exits.
        processes[AUDIT_WORKER].stop(timeout_s=STOP_TIMEOUT_S, sig=signal.SIGINT)
        for process in processes.values():
            process.stop()


# --- load and what the logs say ----------------------------------------------------------------


def signed_lines(rig: Rig, prefix: str, count: int) -> list[str]:
    """`count` events of tenant "bench", signed on every core, as request-body JSON."""
    return [json.dumps(event) for event in sign_parallel(rig.signer, prefix, count).events]


@contextlib.asynccontextmanager
async def cosigned_sizes(rig: Rig) -> AsyncIterator[dict[str, list[tuple[float, int]]]]:
    """Per region, (time.monotonic(), size) each time a poll saw its largest cosigned checkpoint
    grow, polled every POLL_S while the block runs."""
    seen: dict[str, list[tuple[float, int]]] = {region: [(0.0, 0)] for region in rig.ports}

    async def poll(region: str) -> None:
        conn = await asyncpg.connect(rig.settings.region(region).control_dsn)
        try:
            while True:
                size = await conn.fetchval(SELECT_COSIGNED_SIZE)
                if size > seen[region][-1][1]:
                    seen[region].append((time.monotonic(), size))
                await asyncio.sleep(POLL_S)
        finally:
            await conn.close()

    pollers = [asyncio.create_task(poll(region)) for region in rig.ports]
    try:
        yield seen
    finally:
        for task in pollers:
            task.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)


async def leaf_indexes(rig: Rig, region: str, seqs: list[int]) -> dict[int, int]:
    """seq -> log index of the region's records at `seqs` that are appended."""
    conn = await asyncpg.connect(rig.settings.region(region).control_dsn)
    try:
        rows = await conn.fetch(SELECT_INDEXES, rig.stream(region), seqs)
    finally:
        await conn.close()
    return {row["seq"]: row["idx"] for row in rows if row["idx"] is not None}


async def wait_covered(
    rig: Rig, runs: dict[str, LoadRun], seen: dict[str, list[tuple[float, int]]]
) -> dict[str, dict[int, int]]:
    """Until every acked leaf is in a cosigned checkpoint the poller saw; seq -> index per
    region."""
    deadline = time.monotonic() + COVER_TIMEOUT_S
    while True:
        indexes = {
            region: await leaf_indexes(rig, region, run.seqs) for region, run in runs.items()
        }
        behind = {
            region: f"{len(indexes[region])} of {len(run.seqs)} appended, cosigned size "
            f"{seen[region][-1][1]}"
            for region, run in runs.items()
            if len(indexes[region]) < len(run.seqs)
            or seen[region][-1][1] <= max(indexes[region].values())
        }
        if not behind:
            return indexes
        if time.monotonic() > deadline:
            worker = rig.processes[AUDIT_WORKER]
            raise BenchFailure(
                f"leaves not cosigned after {COVER_TIMEOUT_S:.0f}s: {behind}; the audit worker "
                f"said:\n{worker.log_tail()}"
            )
        await asyncio.sleep(0.5)


def latencies(run: LoadRun, indexes: dict[int, int], seen: list[tuple[float, int]]) -> list[float]:
    """Per leaf: from its batch's ack to the first poll that saw a cosigned size above it."""
    result = []
    for ack in run.acks:
        for seq in ack.seqs:
            index = indexes[seq]
            cosigned_at = next(at for at, size in seen if size > index)
            result.append(cosigned_at - ack.acked_at)
    return result


async def anchor_run(rig: Rig, rate: float, window_s: float) -> Anchored:
    """Both regions at `rate` for `window_s`."""
    count = DEMO_BATCH * math.ceil(rate * window_s / DEMO_BATCH)
    load = {region: signed_lines(rig, f"load-{region}-", count) for region in rig.ports}
    async with cosigned_sizes(rig) as seen:
        clients = {
            region: httpx.AsyncClient(base_url=rig.url(region), timeout=60) for region in load
        }
        try:
            answered = await asyncio.gather(
                *(paced(clients[region], load[region], rate) for region in load)
            )
        finally:
            for client in clients.values():
                await client.aclose()
        runs = dict(zip(load, answered, strict=True))
        indexes = await wait_covered(rig, runs, seen)
    return Anchored(
        rig.settings.audit.batch_max_age_s,
        {region: run.events_per_s for region, run in runs.items()},
        [
            latency
            for region, run in runs.items()
            for latency in latencies(run, indexes[region], seen[region])
        ],
    )


# --- the figure --------------------------------------------------------------------------------


def budget_s(batch_age_s: float) -> float:
    return SLO_OVER_BATCH_AGE * batch_age_s


def report(demo: float, rate: float, runs: list[Anchored]) -> None:
    print(
        f"\nanchoring latency (ack -> leaf in a cosigned checkpoint), both regions at 2x the "
        f"demo's ingest\n  demo's ingest (2,000 events to us in batches of 250, one at a time) "
        f"{demo:,.0f} events/s; asked {rate:,.0f} events/s per region"
    )
    print(
        f"  {'batch age s':>11} {'achieved us/eu ev/s':>20} {'leaves':>7} {'p50 s':>6} "
        f"{'p99 s':>6} {'max s':>6} {'budget s':>8}"
    )
    for run in runs:
        achieved = "/".join(f"{value:,.0f}" for value in run.achieved.values())
        p99 = percentile(run.latencies, 0.99)
        print(
            f"  {run.batch_age_s:>11g} {achieved:>20} {len(run.latencies):>7,} "
            f"{percentile(run.latencies, 0.5):>6.2f} {p99:>6.2f} {max(run.latencies):>6.2f} "
            f"{budget_s(run.batch_age_s):>8g}  (p99 within budget: "
            f"{verdict(p99 <= budget_s(run.batch_age_s))})"
        )
        short = [region for region, value in run.achieved.items() if value < ACHIEVED_SHARE * rate]
        if short:
            print(
                f"  {'':>11} {', '.join(short)} took less than {ACHIEVED_SHARE:.0%} of the asked "
                "rate: the latencies are those of the load it took"
            )


def missed(run: Anchored) -> bool:
    return percentile(run.latencies, 0.99) > budget_s(run.batch_age_s)


async def profile_run(stack: BenchStack, run: Anchored, rate: float, window_s: float) -> None:
    """One more window at `run`'s batch age with the audit worker under cProfile; the profile's
    summary printed and written next to its stats."""
    stats_path = Path(tempfile.mkdtemp(prefix="bench-audit-profile-")) / "audit-worker.prof"
    async with running_rig(stack, "anchor_profiled", run.batch_age_s, stats_path) as rig:
        await anchor_run(rig, rate, window_s)
    if not stats_path.exists():
        worker = rig.processes[AUDIT_WORKER]
        raise BenchFailure(
            f"the audit worker wrote no profile (exit status {worker.popen.returncode}):\n"
            f"{worker.log_tail()}"
        )
    text = io.StringIO()
    stats = pstats.Stats(str(stats_path), stream=text).strip_dirs().sort_stats("cumulative")
    stats.print_stats(r"audit|merkle|append|enrich|witness", 25)
    stats.sort_stats("tottime").print_stats(15)
    summary = stats_path.with_suffix(".txt")
    summary.write_text(text.getvalue())
    print(f"\n  profile of the audit worker at batch age {run.batch_age_s:g} s: {stats_path}")
    print(f"  summary ({summary}), the audit code by cumulative time:")
    print("\n".join("    " + line for line in text.getvalue().splitlines()[:45]))


async def anchoring_latency(args: argparse.Namespace) -> None:
    async with whole_stack() as stack:
        ages = [stack.settings.audit.batch_max_age_s, args.scaled_age]
        runs: list[Anchored] = []
        for number, age in enumerate(ages):
            async with running_rig(stack, f"anchor{number}", age) as rig:
                if number == 0:
                    # The demo's ingest: its us events to us's node, the demo's way.
                    lines = signed_lines(rig, "demo-", EVENTS_PER_REGION["us"])
                    async with httpx.AsyncClient(base_url=rig.url("us"), timeout=60) as client:
                        demo = (await demo_rate(client, lines)).events_per_s
                runs.append(await anchor_run(rig, 2 * demo, args.window))
        report(demo, 2 * demo, runs)
        worst = next((run for run in runs if missed(run)), runs[0] if args.profile else None)
        if worst is not None:
            await profile_run(stack, worst, 2 * demo, args.window)
