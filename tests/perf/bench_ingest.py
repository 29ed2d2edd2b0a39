"""Sustained ingest of pre-signed events against one node, as a ratio to what the machine can do,
and the ack latency a client sees when the node is not saturated.

Run: .venv/bin/python tests/perf/bench_ingest.py [--events 50000] [--clients 8] [--rounds 1]
        [--open-loop-seconds 20] [--open-loop-share 0.5]

One ingest node runs as a real subprocess (`geoledger ingest serve`) over its own WAL and fresh
databases on a private embedded PostgreSQL. Eight clients post batches of 100 pre-signed events
(built before the clock starts) as fast as the node answers (a closed loop); every event must come
back `accepted`. In the same run, on the same machine, two baselines bound what the node could
reach, neither of them the project's code:

  verify  the raw Ed25519 verify rate: libsodium (PyNaCl) over the same signing inputs, one
          process per core (the node verifies on a process pool of the same size);
  upsert  the raw PostgreSQL rate: plain SQL, COPY of the same rows into a temp table and one
          INSERT ... ON CONFLICT DO NOTHING into dedup_events of a fresh database.

ratio = ingest / min(verify, upsert), target >= 0.6. The CPU seconds per event spent by the node
(its event loop and its verify workers apart), PostgreSQL and the load generator, and how busy the
whole machine was, say what limits the figure.

Then an open loop on the same node: batches of 100 arrive on a fixed schedule at 50 % of the
closed loop's rate, whatever the node has answered (a new connection when every open one is
waiting), for --open-loop-seconds. Each batch's ack latency counts from its scheduled arrival, so
a late send counts against the figure; p50 / p99 / p99.9, target p99 <= 25 ms.
Exit status 0 whether or not the targets are met; 1 only when something failed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from statistics import median

# Run as a script (`make bench`): the repository root must be importable for `tests.perf`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx

from storage.dedup.from_wal import dedup_record_from
from storage.embedded.process import free_port
from storage.keys import KeyRegistry
from tests.perf._stack import (
    BenchFailure,
    BenchStack,
    BenchTenant,
    RawHttpClient,
    SignedSet,
    Subprocess,
    batch_bodies,
    bench_tenant,
    cpu_seconds,
    dedup_rows,
    http_ok,
    libsodium_cpu_per_verify,
    machine_cpu_seconds,
    own_cpu_seconds,
    percentile,
    raw_upsert_rate,
    raw_verify_rate,
    run_async,
    sign_events,
    sign_parallel,
    start_geoledger,
    verdict,
    wait_for,
    wal_record_of,
)

BATCH = 100
TARGET_RATIO = 0.6
TARGET_OPEN_LOOP_P99_S = 0.025
WARMUP_EVENTS = 2000
STREAM = "us/n1"


# --- baseline: raw upsert (plain SQL) ---------------------------------------------------------


async def measure_upsert(stack: BenchStack, signed: SignedSet, tag: str) -> float:
    """Rows per second of plain SQL upserting the records the node would write for `signed`
    into dedup_events of a fresh database; the rows are built before the clock starts."""
    region = await stack.fresh_region("us", tag)
    hlc0 = time.time_ns() // 1_000_000 << 16
    records = [
        dedup_record_from(wal_record_of(event, seq, hlc0), seq)
        for seq, event in enumerate(signed.events, start=1)
    ]
    return await raw_upsert_rate(region.shard_dsns[0], dedup_rows(records))


# --- the ingest run ---------------------------------------------------------------------------


@dataclass
class IngestRun:
    events: int
    seconds: float
    latencies: list[float]
    node_cpu: float
    node_main_cpu: float  # the event loop's process alone, without its verify workers
    postgres_cpu: float
    driver_cpu: float
    machine_busy: float  # fraction of all cores busy during the run
    node_metrics: dict[str, float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds


_ACCEPTED = re.compile(rb'"status":"accepted"')


async def drive(port: int, bodies: list[tuple[int, bytes]], clients: int) -> list[float]:
    """Post every body with `clients` concurrent connections; return each request's latency.
    Raises BenchFailure unless every event is answered `accepted`."""
    latencies: list[float] = []
    cursor = itertools.count()

    async def client() -> None:
        http = RawHttpClient("127.0.0.1", port)
        try:
            while (index := next(cursor)) < len(bodies):
                count, body = bodies[index]
                started = time.perf_counter()
                status, answer = await http.post("/v1/events", body)
                latencies.append(time.perf_counter() - started)
                accepted = len(_ACCEPTED.findall(answer))
                if status != 200 or accepted != count:
                    raise BenchFailure(
                        f"batch {index}: HTTP {status}, {accepted}/{count} accepted: "
                        f"{answer[:300]!r}"
                    )
        finally:
            await http.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


_METRIC_LINE = re.compile(r"^([a-z_]+)(?:\{[^}]*\})? ([0-9.eE+-]+)$")
_WANTED = (
    "ingest_verify_seconds_sum",
    "ingest_verify_seconds_count",
    "dedup_apply_seconds_sum",
    "dedup_apply_seconds_count",
    "wal_fsync_seconds_sum",
    "wal_fsync_seconds_count",
    "wal_group_commit_records_sum",
)


def node_metrics(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match and match.group(1) in _WANTED:
            found[match.group(1)] = found.get(match.group(1), 0.0) + float(match.group(2))
    return found


@dataclass(frozen=True)
class OpenLoop:
    """The open-loop run that follows the closed loop on the same node."""

    seconds: float
    share_of_max: float
    signer: ProcessPoolExecutor


@dataclass
class OpenLoopRun:
    asked_rate: float
    achieved_rate: float
    latencies: list[float]
    connections: int


async def drive_open_loop(port: int, bodies: list[tuple[int, bytes]], rate: float) -> OpenLoopRun:
    """Send batch i at start + i * BATCH / rate whatever has been answered (an open loop): on an
    idle connection, or on a new one when every open one is waiting. Each latency counts from the
    batch's scheduled arrival, so a send the load generator itself delayed counts against the
    figure instead of hiding it. Raises BenchFailure unless every event is `accepted`."""
    idle: list[RawHttpClient] = []
    opened: list[RawHttpClient] = []
    latencies: list[float] = []

    async def send(index: int, due: float) -> None:
        if idle:
            http = idle.pop()
        else:
            http = RawHttpClient("127.0.0.1", port)
            opened.append(http)
        count, body = bodies[index]
        status, answer = await http.post("/v1/events", body)
        latencies.append(time.perf_counter() - due)
        idle.append(http)
        accepted = len(_ACCEPTED.findall(answer))
        if status != 200 or accepted != count:
            raise BenchFailure(f"open loop, batch {index}: HTTP {status}, {accepted}/{count}")

    sends: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    try:
        sent = 0
        for index, (count, _) in enumerate(bodies):
            # Due when the events before it have arrived (a short last batch comes no earlier).
            due = started + sent / rate
            sent += count
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sends.append(asyncio.create_task(send(index, due)))
        await asyncio.gather(*sends)
        elapsed = time.perf_counter() - started
    finally:
        for task in sends:
            task.cancel()
        await asyncio.gather(*sends, return_exceptions=True)
        for http in opened:
            await http.close()
    events = sum(count for count, _ in bodies)
    return OpenLoopRun(rate, events / elapsed, latencies, len(opened))


async def measure_ingest(
    stack: BenchStack,
    signed: SignedSet,
    warmup: SignedSet,
    who: BenchTenant,
    clients: int,
    tag: str,
    open_loop: OpenLoop,
    profile_to: Path | None = None,
) -> tuple[IngestRun, OpenLoopRun]:
    region = await stack.fresh_region("us", tag)
    settings = stack.with_regions({"us": region})
    async with await KeyRegistry.open(settings) as registry:
        await registry.create(who.tenant_id, who.private_key.public_key())
    port = free_port()
    node = start_geoledger(
        f"ingest-{tag}",
        ["ingest", "serve", "--region", "us", "--node", "n1", "--port", str(port)],
        stack.env_for(settings),
        stack.root / "logs",
        profile_to,
    )
    try:
        wait_for(node, http_ok(f"http://127.0.0.1:{port}/healthz"))
        await drive(port, batch_bodies(warmup.events, BATCH), clients)
        bodies = batch_bodies(signed.events, BATCH)
        closed = await _timed_ingest(stack, node, port, bodies, clients, len(signed.events))
        # Signed while the node idles, with event ids of their own: every one is accepted.
        rate = open_loop.share_of_max * closed.rate
        arrivals = sign_parallel(
            open_loop.signer, f"{tag}-open-", max(BATCH, int(rate * open_loop.seconds))
        )
        return closed, await drive_open_loop(port, batch_bodies(arrivals.events, BATCH), rate)
    finally:
        node.stop(sig=signal.SIGINT if profile_to else signal.SIGTERM)


async def _timed_ingest(
    stack: BenchStack,
    node: Subprocess,
    port: int,
    bodies: list[tuple[int, bytes]],
    clients: int,
    events: int,
) -> IngestRun:
    postmaster = stack.postgres.pid()
    assert postmaster is not None
    before_metrics = node_metrics(port)
    before = (
        cpu_seconds([node.popen.pid]),
        cpu_seconds([postmaster]),
        sum(os.times()[:2]),
        machine_cpu_seconds(),
        own_cpu_seconds(node.popen.pid),
    )
    started = time.perf_counter()
    latencies = await drive(port, bodies, clients)
    elapsed = time.perf_counter() - started
    after = (
        cpu_seconds([node.popen.pid]),
        cpu_seconds([postmaster]),
        sum(os.times()[:2]),
        machine_cpu_seconds(),
        own_cpu_seconds(node.popen.pid),
    )
    after_metrics = node_metrics(port)
    return IngestRun(
        events=events,
        seconds=elapsed,
        latencies=latencies,
        node_cpu=after[0] - before[0],
        node_main_cpu=after[4] - before[4],
        postgres_cpu=after[1] - before[1],
        driver_cpu=after[2] - before[2],
        machine_busy=(after[3] - before[3]) / (elapsed * (os.cpu_count() or 1)),
        node_metrics={k: after_metrics.get(k, 0) - before_metrics.get(k, 0) for k in _WANTED},
    )


# --- report -----------------------------------------------------------------------------------


def report_round(
    number: int,
    verifies: list[float],
    verify_cpu: float,
    upserts: list[float],
    run: IngestRun,
    open_run: OpenLoopRun,
) -> float:
    verify, upsert = sum(verifies) / len(verifies), sum(upserts) / len(upserts)
    bound = min(verify, upsert)
    ratio = run.rate / bound
    m = run.node_metrics
    per_event_us = {
        "node event loop": run.node_main_cpu / run.events * 1e6,
        "node verify workers": (run.node_cpu - run.node_main_cpu) / run.events * 1e6,
        "postgres": run.postgres_cpu / run.events * 1e6,
        "load generator": run.driver_cpu / run.events * 1e6,
    }
    print(f"-- round {number}")
    print(
        f"raw verify   {verify:>9,.0f} verifies/s  (mean of {_spread(verifies)};"
        f" libsodium, {os.cpu_count()} processes; one verify is {verify_cpu * 1e6:.0f} us of CPU)"
    )
    print(
        f"raw upsert   {upsert:>9,.0f} records/s   (mean of {_spread(upserts)};"
        f" plain SQL: COPY to a temp table, one INSERT ... ON CONFLICT DO NOTHING)"
    )
    print(
        f"ingest       {run.rate:>9,.0f} events/s    ({run.events:,} events in {run.seconds:.1f}s,"
        f" ack p50 {percentile(run.latencies, 0.5) * 1e3:.0f} ms,"
        f" p99 {percentile(run.latencies, 0.99) * 1e3:.0f} ms)"
    )
    print(
        "cpu/event    "
        + ", ".join(f"{name} {us:.0f} us" for name, us in per_event_us.items())
        + f"; machine {run.machine_busy:.0%} busy"
    )
    if m.get("ingest_verify_seconds_count"):

        def mean_ms(name: str) -> float:
            return m[f"{name}_sum"] / max(m[f"{name}_count"], 1) * 1e3

        commits = max(m["wal_fsync_seconds_count"], 1)
        print(
            f"node         verify {mean_ms('ingest_verify_seconds'):.1f} ms/batch,"
            f" dedup apply {mean_ms('dedup_apply_seconds'):.1f} ms"
            f" x {m['dedup_apply_seconds_count']:.0f},"
            f" fsync {mean_ms('wal_fsync_seconds'):.1f} ms x {commits:.0f}"
            f" ({m['wal_group_commit_records_sum'] / commits:.0f} records each)"
        )
    limit = "verify" if verify < upsert else "upsert"
    print(
        f"ratio        {ratio:.2f} = ingest / min(verify, upsert) = ingest / {limit}"
        f"  (target >= {TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)})"
    )
    p99 = percentile(open_run.latencies, 0.99)
    print(
        f"open loop    {open_run.achieved_rate:>9,.0f} events/s"
        f" (arrivals at {open_run.asked_rate:,.0f}/s = {open_run.asked_rate / run.rate:.0%} of"
        f" ingest, batches of {BATCH}, {len(open_run.latencies)} batches,"
        f" {open_run.connections} connections)"
    )
    print(
        f"ack latency  p50 {percentile(open_run.latencies, 0.5) * 1e3:.1f} ms,"
        f" p99 {p99 * 1e3:.1f} ms, p99.9 {percentile(open_run.latencies, 0.999) * 1e3:.1f} ms,"
        f" max {max(open_run.latencies) * 1e3:.1f} ms (from scheduled arrival)"
        f"  (target p99 <= {TARGET_OPEN_LOOP_P99_S * 1e3:.0f} ms:"
        f" {verdict(p99 <= TARGET_OPEN_LOOP_P99_S)})"
    )
    return ratio


def _spread(values: list[float]) -> str:
    return " before and ".join(f"{value:,.0f}" for value in values) + " after"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="measured events per round")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=1, help="repeat baselines and ingest")
    parser.add_argument(
        "--open-loop-seconds", type=float, default=20.0, help="length of the open-loop run"
    )
    parser.add_argument(
        "--open-loop-share",
        type=float,
        default=0.5,
        help="open-loop arrival rate as a share of the closed loop's events/s",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="run the node under cProfile, stats to this file"
    )
    args = parser.parse_args()
    if args.events < BATCH:
        raise BenchFailure(f"--events: expected at least {BATCH}, got {args.events}")
    if args.open_loop_seconds <= 0 or not 0 < args.open_loop_share <= 1:
        raise BenchFailure(
            f"--open-loop-seconds: expected > 0, got {args.open_loop_seconds};"
            f" --open-loop-share: expected in (0, 1], got {args.open_loop_share}"
        )
    who = bench_tenant("bench")
    started = time.perf_counter()
    signed = sign_events(who, "evt-", args.events)
    warmup = sign_events(who, "warm-", WARMUP_EVENTS)
    print(
        f"signed {len(signed.events) + len(warmup.events):,} events in "
        f"{time.perf_counter() - started:.1f}s; {os.cpu_count()} cores"
    )
    ratios: list[float] = []
    # One pool of a process per core for the raw verify baseline and for signing.
    with BenchStack(postgres_only=True) as stack, ProcessPoolExecutor(os.cpu_count()) as pool:
        open_loop = OpenLoop(args.open_loop_seconds, args.open_loop_share, pool)
        for number in range(1, args.rounds + 1):
            # The baselines bracket the ingest run, so that a change in what else the shared
            # machine is doing shifts both sides of the ratio alike.
            verify = [raw_verify_rate(signed, who.public_raw, pool)]
            upsert = [await measure_upsert(stack, signed, f"upsert{number}a")]
            run, open_run = await measure_ingest(
                stack, signed, warmup, who, args.clients, f"ingest{number}", open_loop, args.profile
            )
            verify.append(raw_verify_rate(signed, who.public_raw, pool))
            upsert.append(await measure_upsert(stack, signed, f"upsert{number}b"))
            verify_cpu = libsodium_cpu_per_verify(signed, who.public_raw)
            ratios.append(report_round(number, verify, verify_cpu, upsert, run, open_run))
    if len(ratios) > 1:
        print(
            f"-- ratio over {len(ratios)} rounds: min {min(ratios):.2f}, median "
            f"{median(ratios):.2f}, max {max(ratios):.2f}"
            f" ({verdict(median(ratios) >= TARGET_RATIO)})"
        )


def _entry() -> int:
    return run_async(main)


if __name__ == "__main__":
    raise SystemExit(_entry())
