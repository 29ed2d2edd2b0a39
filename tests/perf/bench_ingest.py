"""Sustained ingest of pre-signed events against one node, as a ratio to what the machine can do.

Run: .venv/bin/python tests/perf/bench_ingest.py [--events 50000] [--clients 8] [--rounds 1]

One ingest node runs as a real subprocess (`geoledger ingest serve`) over its own WAL and fresh
databases on a private embedded PostgreSQL. Eight clients post batches of 100 pre-signed events
(built before the clock starts) as fast as the node answers; every event must come back
`accepted`. In the same run, on the same machine, two baselines bound what the node could reach:

  verify  the raw Ed25519 verify rate: cryptography's verify over the same signing inputs, one
          process per core (the node verifies on a process pool of the same size);
  upsert  the raw set-based PostgreSQL rate: DedupStore.apply of the same records in batches of
          100, one batch at a time, on fresh databases.

ratio = ingest / min(verify, upsert), target >= 0.6. The CPU seconds per event spent by the node,
PostgreSQL and the load generator, and how busy the whole machine was, say what limits the figure.
Exit status 0 whether or not the target is met; 1 only when something failed.
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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage.dedup.from_wal import dedup_record_from
from storage.dedup.store import DedupStore
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
    http_ok,
    machine_cpu_seconds,
    own_cpu_seconds,
    percentile,
    run_async,
    sign_events,
    start_geoledger,
    verdict,
    wait_for,
    wal_record_of,
)

BATCH = 100
TARGET_RATIO = 0.6
WARMUP_EVENTS = 2000
STREAM = "us/n1"


# --- baseline (a): raw Ed25519 verify ---------------------------------------------------------


def _verify_chunk(public_raw: bytes, pairs: list[tuple[bytes, bytes]]) -> int:
    key = Ed25519PublicKey.from_public_bytes(public_raw)
    for signature, message in pairs:
        key.verify(signature, message)  # raises InvalidSignature: a real failure
    return len(pairs)


def measure_verify(signed: SignedSet, who: BenchTenant, workers: int) -> float:
    """Verifies per second with one process per core, pool started before the clock."""
    pairs = list(zip(signed.signatures, signed.signing_inputs, strict=True))
    size = -(-len(pairs) // (workers * 8))
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_verify_chunk, [who.public_raw] * workers, [pairs[:50]] * workers))
        started = time.perf_counter()
        done = sum(pool.map(_verify_chunk, [who.public_raw] * len(chunks), chunks))
        return done / (time.perf_counter() - started)


def _cpu_per_verify(signed: SignedSet, who: BenchTenant) -> float:
    """CPU seconds of one verify in this process: what a verify costs when it has a core."""
    pairs = list(zip(signed.signatures, signed.signing_inputs, strict=True))[:2000]
    started = time.process_time()
    _verify_chunk(who.public_raw, pairs)
    return (time.process_time() - started) / len(pairs)


# --- baseline (b): raw set-based upsert -------------------------------------------------------


async def measure_upsert(stack: BenchStack, signed: SignedSet, tag: str) -> float:
    """Records per second of DedupStore.apply in batches of 100 (with the stream position, as the
    node records it) on fresh databases; the records are built before the clock starts."""
    region = await stack.fresh_region("us", tag)
    hlc0 = time.time_ns() // 1_000_000 << 16
    records = [
        dedup_record_from(wal_record_of(event, seq, hlc0), seq)
        for seq, event in enumerate(signed.events, start=1)
    ]
    async with await DedupStore.open(region) as store:
        started = time.perf_counter()
        for start in range(0, len(records), BATCH):
            batch = records[start : start + BATCH]
            await store.apply(batch, stream=STREAM, through_seq=batch[-1].seq)
        elapsed = time.perf_counter() - started
        if await store.count_events() != len(records):
            raise BenchFailure("upsert baseline: not every record became a winner")
    return len(records) / elapsed


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


async def measure_ingest(
    stack: BenchStack,
    signed: SignedSet,
    warmup: SignedSet,
    who: BenchTenant,
    clients: int,
    tag: str,
    profile_to: Path | None = None,
) -> IngestRun:
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
        return await _timed_ingest(stack, node, port, bodies, clients, len(signed.events))
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
    number: int, verifies: list[float], verify_cpu: float, upserts: list[float], run: IngestRun
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
        f" {os.cpu_count()} processes; one verify is {verify_cpu * 1e6:.0f} us of CPU)"
    )
    print(
        f"raw upsert   {upsert:>9,.0f} records/s   (mean of {_spread(upserts)};"
        f" DedupStore.apply, batches of {BATCH})"
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
    return ratio


def _spread(values: list[float]) -> str:
    return " before and ".join(f"{value:,.0f}" for value in values) + " after"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="measured events per round")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=1, help="repeat baselines and ingest")
    parser.add_argument(
        "--profile", type=Path, default=None, help="run the node under cProfile, stats to this file"
    )
    args = parser.parse_args()
    if args.events < BATCH:
        raise BenchFailure(f"--events: expected at least {BATCH}, got {args.events}")
    who = bench_tenant("bench")
    started = time.perf_counter()
    signed = sign_events(who, "evt-", args.events)
    warmup = sign_events(who, "warm-", WARMUP_EVENTS)
    print(
        f"signed {len(signed.events) + len(warmup.events):,} events in "
        f"{time.perf_counter() - started:.1f}s; {os.cpu_count()} cores"
    )
    ratios: list[float] = []
    with BenchStack(postgres_only=True) as stack:
        for number in range(1, args.rounds + 1):
            # The baselines bracket the ingest run, so that a change in what else the shared
            # machine is doing shifts both sides of the ratio alike.
            verify = [measure_verify(signed, who, os.cpu_count() or 1)]
            upsert = [await measure_upsert(stack, signed, f"upsert{number}a")]
            run = await measure_ingest(
                stack, signed, warmup, who, args.clients, f"ingest{number}", args.profile
            )
            verify.append(measure_verify(signed, who, os.cpu_count() or 1))
            upsert.append(await measure_upsert(stack, signed, f"upsert{number}b"))
            verify_cpu = _cpu_per_verify(signed, who)
            ratios.append(report_round(number, verify, verify_cpu, upsert, run))
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
