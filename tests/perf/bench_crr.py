"""Cross-region replication under steady ingest, with both regions' CRR on: the ingest it
sustains as a ratio to ingest alone, lag from ack in us to applied in eu, ship lag from ack to the
manifest committed in every ship target, and the replay rate as a ratio to raw Ed25519
verification and to a raw COPY of the same records.

Run: .venv/bin/python tests/perf/bench_crr.py [--rate 5000] [--seconds 60] [--fixed-rate 2000]
        [--fixed-seconds 20] [--segment-age S] [--poll-interval S]

Everything runs on a private embedded stack (Temporal, PostgreSQL, moto S3, fake-gcs-server): the
us ingest node (`geoledger ingest serve`) and the CRR workers (`geoledger worker run --queue
geoledger-crr`, `geoledger-crr-us-n1`, `geoledger-crr-eu-n1`) are subprocesses, and
workers.crr_control.start_crr starts every shipper and replayer of both regions. The defaults
are the configuration's (0.25 s segments, 0.1 s polls).

1. ingest alone: 8 clients post batches of 100 pre-signed events as fast as the node answers
   (a closed loop), before any CRR workflow runs; then CRR starts and catches up.
2. calibrate: the same closed loop with CRR on: the most it sustains with replication running.
   The ratio to 1 is replication's whole overhead on this machine (target >= 0.6x).
3. steady: batches of 100 posted on a fixed schedule at 70 % of 2 (or --rate, if lower) for
   --seconds; each answer's last seq and ack time are kept and eu's applied position of stream
   us/n1 is polled every 50 ms. A batch's lag is the time from its ack to the first poll that
   sees it applied in eu (target p99 <= 1 s). Its ship lag is the time from its ack to its
   segment's manifest being in every ship target: each target's manifest listing is polled every
   50 ms too, and the later first sighting counts (target p99 <= 0.3 s). The CPU each process
   spent per event in this phase says where the next bottleneck is (the two pollers' listings
   and queries are a small part of moto's, fake-gcs's and PostgreSQL's).
4. fixed: the same at --fixed-rate (2,000 events/s) for --fixed-seconds, so machines compare.
5. replay: with eu's replayer paused, a burst is ingested and shipped; then the replayer resumes
   and the time until eu has applied all of it gives replay records/s.
6. baselines on the burst's records, in the same run: raw Ed25519 verification through libsodium
   (PyNaCl) on every core, verification alone (target replay >= 0.8x); replay's own checks alone
   (strict decode and verify in worker processes, as replay runs them); a raw COPY into
   dedup_events of a fresh database.

Exit status 0 whether or not the targets are met; 1 only when something failed. Bounded: about
3.5 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

# Run as a script (`make bench`): the repository root must be importable for `tests.perf`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger.config import RegionConfig, Settings
from ledger.manifest import parse_manifest
from ledger.record import encode_record
from storage.crr.replay import list_manifests_after
from storage.crr.verify_events import EventVerifier
from storage.dedup.models import DedupRecord
from storage.dedup.store import DedupStore
from storage.embedded.process import free_port
from storage.keys import KeyRegistry, TenantKey
from storage.objectstore import open_object_store
from storage.wal import list_segments, stream_directory
from tests.perf._stack import (
    BenchFailure,
    BenchStack,
    BenchTenant,
    RawHttpClient,
    SignedSet,
    Subprocess,
    batch_bodies,
    bench_tenant,
    cpu_split,
    dedup_rows,
    http_ok,
    log_says,
    percentile,
    raw_copy_rate,
    raw_verify_rate,
    run_async,
    sign_parallel,
    start_geoledger,
    verdict,
    wait_for,
    wal_record_of,
)
from workers.client import connect
from workers.crr_control import signal_crr, start_crr
from workflows import queues

BATCH = 100
CLIENTS = 8
CALIBRATE_EVENTS = 8_000
WARMUP_EVENTS = 2_000
BURST_EVENTS = 12_000
VERIFY_SEGMENT = 1_000
STEADY_SHARE_OF_MAX = 0.7
POLL_S = 0.05
CATCH_UP_TIMEOUT_S = 90.0
STREAM = "us/n1"
NODE = "ingest-us-n1"
TARGET_LAG_P99_S = 1.0
TARGET_SHIP_LAG_P99_S = 0.3
TARGET_MAX_RATIO = 0.6
TARGET_REPLAY_RATIO = 0.8


# --- ingest ------------------------------------------------------------------------------------


@dataclass
class Acks:
    """(last seq of the batch, ack time) per answered batch."""

    batches: list[tuple[int, float]] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return max((seq for seq, _ in self.batches), default=0)


async def _post(http: RawHttpClient, count: int, body: bytes, acks: Acks) -> None:
    status, answer = await http.post("/v1/events", body)
    acked = time.monotonic()
    if status != 200:
        raise BenchFailure(f"ingest answered HTTP {status}: {answer[:300]!r}")
    results = json.loads(answer)["results"]
    seqs = [r["seq"] for r in results if r["status"] == "accepted"]
    if len(seqs) != count:
        raise BenchFailure(f"{count - len(seqs)} of {count} events not accepted: {results[:2]}")
    acks.batches.append((max(seqs), acked))


async def ingest_closed_loop(port: int, bodies: list[tuple[int, bytes]]) -> tuple[float, Acks]:
    """Post every body with CLIENTS connections as fast as the node answers; events/s."""
    acks = Acks()
    cursor = itertools.count()

    async def client() -> None:
        http = RawHttpClient("127.0.0.1", port)
        try:
            while (index := next(cursor)) < len(bodies):
                await _post(http, *bodies[index], acks)
        finally:
            await http.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return sum(count for count, _ in bodies) / (time.monotonic() - started), acks


async def ingest_paced(
    port: int, bodies: list[tuple[int, bytes]], rate: float
) -> tuple[float, Acks]:
    """Post batch i at start + i * BATCH / rate (never more than CLIENTS in flight)."""
    acks = Acks()
    cursor = itertools.count()
    started = time.monotonic()

    async def client() -> None:
        http = RawHttpClient("127.0.0.1", port)
        try:
            while (index := next(cursor)) < len(bodies):
                due = started + index * BATCH / rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await _post(http, *bodies[index], acks)
        finally:
            await http.close()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return sum(count for count, _ in bodies) / (time.monotonic() - started), acks


# --- replication -------------------------------------------------------------------------------


class Poller:
    """Calls `_look` every POLL_S while the context is open, and once more on leaving it: the
    caller waited for something that the cancelled poll may not have seen yet."""

    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._look()

    async def _run(self) -> None:
        while True:
            await self._look()
            await asyncio.sleep(POLL_S)

    async def _look(self) -> None:
        raise NotImplementedError


class AppliedPoller(Poller):
    """Polls eu's applied position of us/n1 and records when each value was seen."""

    def __init__(self, store: DedupStore) -> None:
        self._store = store
        self.samples: list[tuple[float, int]] = []

    async def _look(self) -> None:
        position = await self._store.applied_position(STREAM)
        self.samples.append((time.monotonic(), position))

    def lags(self, acks: Acks) -> list[float]:
        """Per batch, seconds from its ack to the first sample that shows it applied."""
        return [self.seen_applied(seq, acked) - acked for seq, acked in acks.batches]

    def seen_applied(self, seq: int, acked: float) -> float:
        seen = next((t for t, position in self.samples if position >= seq and t >= acked), None)
        if seen is None:
            raise BenchFailure(f"seq {seq} was never seen applied in eu")
        return seen


@dataclass(frozen=True)
class LagParts:
    """Where each batch's lag went, in seconds per batch: ack to the seal of its segment (the
    segment's age limit), seal to its manifest (shipping), manifest to applied in eu (replay)."""

    sealing: list[float]
    shipping: list[float]
    replaying: list[float]


async def lag_parts(settings: Settings, acks: Acks, poller: AppliedPoller) -> LagParts:
    """From the node's sealed segment files (renamed when sealed: their ctime), each manifest's
    shipped_at_ms (when the shipper signed it) and the poller's samples, all on this machine's
    clock."""
    sealed_at = {
        (info.first_seq, info.last_seq): info.path.stat().st_ctime
        for info in list_segments(stream_directory(settings.region("us").wal_dir, STREAM))
        if info.sealed
    }
    store = open_object_store(settings.region("eu").object_store)
    first = min(seq for seq, _ in acks.batches)
    listing = await list_manifests_after(store, STREAM, 0, 1_000_000)
    manifests = [
        parse_manifest(await store.get(ref.key)) for ref in listing.ready if ref.last_seq >= first
    ]
    wall = time.time() - time.monotonic()
    parts = LagParts([], [], [])
    for seq, acked in acks.batches:
        manifest = next(m for m in manifests if m.first_seq <= seq <= m.last_seq)
        sealed = sealed_at[(manifest.first_seq, manifest.last_seq)]
        shipped = manifest.shipped_at_ms / 1000
        parts.sealing.append(sealed - (acked + wall))
        parts.shipping.append(shipped - sealed)
        parts.replaying.append(poller.seen_applied(seq, acked) + wall - shipped)
    return parts


async def wait_applied(store: DedupStore, seq: int, timeout_s: float = CATCH_UP_TIMEOUT_S) -> float:
    """Wait until eu has applied us/n1 through `seq`; return when (monotonic)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await store.applied_position(STREAM) >= seq:
            return time.monotonic()
        await asyncio.sleep(POLL_S)
    position = await store.applied_position(STREAM)
    raise BenchFailure(f"eu applied us/n1 through {position} after {timeout_s:.0f}s, not {seq}")


async def wait_shipped(eu: RegionConfig, after_seq: int, seq: int) -> None:
    """Wait until manifests covering `seq` are in eu's store (the replayer reads from there)."""
    store = open_object_store(eu.object_store)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline:
        listing = await list_manifests_after(store, STREAM, after_seq, 100_000)
        if listing.ready and listing.ready[-1].last_seq >= seq:
            return
        await asyncio.sleep(0.2)
    raise BenchFailure(f"segments through seq {seq} were not shipped to eu in time")


# --- ship lag -----------------------------------------------------------------------------------


class ShipPoller(Poller):
    """Lists stream us/n1's new manifests in every ship target and records when each was first
    seen there. (The stores' own last-modified times would cost nothing, but moto's listings
    round them to whole seconds.)"""

    def __init__(self, settings: Settings, after_seq: int) -> None:
        targets = settings.region("us").ship_targets or ["us"]
        self._stores = {t: open_object_store(settings.region(t).object_store) for t in targets}
        self._after = dict.fromkeys(targets, after_seq)
        self._seen: dict[str, dict[tuple[int, int], float]] = {t: {} for t in targets}

    async def _look(self) -> None:
        for target, store in self._stores.items():
            listing = await list_manifests_after(store, STREAM, self._after[target], 10_000)
            now = time.monotonic()
            for ref in listing.ready:
                self._seen[target].setdefault((ref.first_seq, ref.last_seq), now)
                self._after[target] = ref.last_seq

    def lags(self, acks: Acks) -> list[float]:
        """Per batch, seconds from its ack to its manifest being seen in the last target."""
        lags: list[float] = []
        for seq, acked in acks.batches:
            committed = 0.0
            for target, seen in self._seen.items():
                at = next((t for (first, last), t in seen.items() if first <= seq <= last), None)
                if at is None:
                    raise BenchFailure(f"seq {seq} was never seen shipped to {target}")
                committed = max(committed, at)
            lags.append(committed - acked)
        return lags


# --- raw baselines on the burst's records -------------------------------------------------------


def wal_frames(events: list[dict[str, object]], first_seq: int) -> list[tuple[int, bytes]]:
    """(seq, WAL record bytes) of these events as node us/n1 would have written them."""
    hlc0 = time.time_ns() // 1_000_000 << 16
    return [
        (seq, encode_record(wal_record_of(event, seq, hlc0)))
        for seq, event in enumerate(events, start=first_seq)
    ]


async def checks_alone_rate(
    frames: list[tuple[int, bytes]], who: BenchTenant
) -> tuple[float, list[DedupRecord]]:
    """Records/s of replay's own checks alone (strict decode + Ed25519 verify, I1) over `frames`
    in segments of VERIFY_SEGMENT, in worker processes on every core as replay runs them; and the
    dedup records they yield."""
    key = TenantKey(who.key_id, who.tenant_id, who.public_raw, datetime.now(UTC), None)

    class OneKey:
        async def get(self, key_id: str) -> TenantKey | None:
            return key if key_id == who.key_id else None

    verifier = EventVerifier(OneKey(), "eu")
    try:
        await verifier.dedup_records(frames[:VERIFY_SEGMENT], STREAM)  # workers started, key known
        records: list[DedupRecord] = []
        started = time.perf_counter()
        for start in range(0, len(frames), VERIFY_SEGMENT):
            records += await verifier.dedup_records(frames[start : start + VERIFY_SEGMENT], STREAM)
        elapsed = time.perf_counter() - started
    finally:
        verifier.close()
    return len(frames) / elapsed, records


@dataclass(frozen=True)
class Baselines:
    libsodium: float  # raw Ed25519 verifies/s, every core
    checks: float  # replay's own decode + verify, records/s, every core
    copy: float  # raw COPY rows/s


async def baselines(
    stack: BenchStack, burst: SignedSet, first_seq: int, pool: ProcessPoolExecutor
) -> Baselines:
    who = bench_tenant("bench")
    libsodium = raw_verify_rate(burst, who.public_raw, pool)
    checks, records = await checks_alone_rate(wal_frames(burst.events, first_seq), who)
    region = await stack.fresh_region("us", "copybase")
    copy = await raw_copy_rate(region.shard_dsns[0], dedup_rows(records))
    return Baselines(libsodium, checks, copy)


# --- orchestration -----------------------------------------------------------------------------


async def start_cluster(
    stack: BenchStack, tuning: Tuning
) -> tuple[Settings, list[Subprocess], int]:
    regions = {
        "us": await stack.fresh_region("us", "crr_us"),
        "eu": await stack.fresh_region("eu", "crr_eu"),
    }
    # The poll interval travels in each workflow's input (the starter's settings decide it); the
    # segment age is read by the node, from its environment.
    settings = tuning.apply(stack.with_regions(regions))
    who = bench_tenant("bench")
    async with await KeyRegistry.open(settings) as registry:
        await registry.create(who.tenant_id, who.private_key.public_key())
    env = stack.env_for(settings)
    env["GEOLEDGER_WAL__MAX_SEGMENT_AGE_S"] = str(settings.wal.max_segment_age_s)
    logs = stack.root / "logs"
    port = free_port()
    processes = [
        start_geoledger(
            NODE,
            ["ingest", "serve", "--region", "us", "--node", "n1", "--port", str(port)],
            env,
            logs,
        )
    ]
    for queue in (queues.CRR, queues.node_queue("us", "n1"), queues.node_queue("eu", "n1")):
        processes.append(
            start_geoledger(
                queue, ["worker", "run", "--queue", queue, "--metrics-port", "0"], env, logs
            )
        )
    try:
        wait_for(processes[0], http_ok(f"http://127.0.0.1:{port}/healthz"))
        for worker in processes[1:]:
            wait_for(worker, log_says(worker, "worker polling"))
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return settings, processes, port


@dataclass(frozen=True)
class Phases:
    """What the command line asked for."""

    rate: float
    seconds: float
    fixed_rate: float
    fixed_seconds: float


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000, help="steady ingest at most, events/s")
    parser.add_argument("--seconds", type=float, default=60, help="length of the steady phase")
    parser.add_argument(
        "--fixed-rate", type=float, default=2000, help="the fixed-rate phase's events/s"
    )
    parser.add_argument(
        "--fixed-seconds", type=float, default=20, help="length of the fixed-rate phase"
    )
    parser.add_argument(
        "--segment-age",
        type=float,
        default=None,
        help="the node's wal.max_segment_age_s in seconds (default: the configuration's)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="CRR workflows' poll interval in seconds (default: the configuration's)",
    )
    args = parser.parse_args()
    phases = Phases(args.rate, args.seconds, args.fixed_rate, args.fixed_seconds)
    if (
        min(phases.rate, phases.fixed_rate) < BATCH
        or min(phases.seconds, phases.fixed_seconds) <= 0
    ):
        print(
            f"--rate, --fixed-rate: expected at least {BATCH};"
            " --seconds, --fixed-seconds: expected > 0",
            file=sys.stderr,
        )
        return 2
    # Started outside the event loop: the stack provisions its databases with asyncio.run.
    with BenchStack(postgres_only=False) as stack:
        tuning = Tuning(args.segment_age, args.poll_interval)
        return run_async(lambda: run(stack, phases, tuning))


@dataclass(frozen=True)
class Tuning:
    """Settings the run overrides; None keeps the configuration's."""

    segment_age_s: float | None
    poll_interval_s: float | None

    def apply(self, settings: Settings) -> Settings:
        wal, crr = settings.wal, settings.crr
        if self.segment_age_s is not None:
            wal = wal.model_copy(update={"max_segment_age_s": self.segment_age_s})
        if self.poll_interval_s is not None:
            crr = crr.model_copy(update={"poll_interval_s": self.poll_interval_s})
        return settings.model_copy(update={"wal": wal, "crr": crr})


@dataclass(frozen=True)
class Rig:
    """The running cluster and what drives it."""

    stack: BenchStack
    settings: Settings
    processes: list[Subprocess]
    # One process per core, for every phase: signing, and the raw verify baseline.
    pool: ProcessPoolExecutor
    port: int


async def run(stack: BenchStack, phases: Phases, tuning: Tuning) -> None:
    settings, processes, port = await start_cluster(stack, tuning)
    # spawn, not fork: this process runs Temporal client threads.
    pool = ProcessPoolExecutor(os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"))
    try:
        await run_phases(Rig(stack, settings, processes, pool, port), phases)
    finally:
        pool.shutdown(cancel_futures=True)
        for process in processes:
            process.stop()


@dataclass
class PacedPhase:
    """One phase of paced ingest: what it achieved, each batch's lags, the CPU it cost."""

    asked: float
    achieved: float
    lags: list[float]
    ship_lags: list[float]
    parts: LagParts
    cpu: dict[str, tuple[float, float]]
    events: int


async def paced_phase(
    rig: Rig, eu_store: DedupStore, prefix: str, rate: float, seconds: float
) -> PacedPhase:
    """Ingest at `rate` for `seconds` with CRR on; measured until eu has applied it all."""
    signed = sign_parallel(rig.pool, prefix, max(BATCH, int(rate * seconds) // BATCH * BATCH))
    pids = _component_pids(rig.stack, rig.processes)
    before, generator_before = cpu_split(pids), sum(os.times()[:2])
    shipped = ShipPoller(rig.settings, await eu_store.applied_position(STREAM))
    async with AppliedPoller(eu_store) as poller, shipped:
        achieved, acks = await ingest_paced(rig.port, batch_bodies(signed.events, BATCH), rate)
        await wait_applied(eu_store, acks.last_seq)
    after, generator_after = cpu_split(pids), sum(os.times()[:2])
    cpu = {
        name: (after[name][0] - before[name][0], after[name][1] - before[name][1]) for name in pids
    }
    cpu["load generator and pollers"] = (generator_after - generator_before, 0.0)
    return PacedPhase(
        rate,
        achieved,
        poller.lags(acks),
        shipped.lags(acks),
        await lag_parts(rig.settings, acks, poller),
        cpu,
        len(signed.events),
    )


async def closed_loop_max(
    rig: Rig, prefix: str, events: int = CALIBRATE_EVENTS
) -> tuple[float, Acks]:
    calibration = sign_parallel(rig.pool, prefix, events)
    return await ingest_closed_loop(rig.port, batch_bodies(calibration.events, BATCH))


async def run_phases(rig: Rig, phases: Phases) -> None:
    settings = rig.settings
    client = await connect(settings)
    eu = settings.region("eu")
    async with await DedupStore.open(eu) as eu_store:
        # 1. ingest alone, once before any CRR workflow runs (after a warm-up: the node's first
        # requests start its workers) and once more with every one paused (2. is between them:
        # a drift of the shared machine moves both sides of the ratio alike).
        await closed_loop_max(rig, "warm-", WARMUP_EVENTS)
        first_alone, acks = await closed_loop_max(rig, "alone1-")
        await start_crr(client, settings)
        # 2. the same closed loop with CRR on, each run starting with eu level with us.
        await wait_applied(eu_store, acks.last_seq)
        sustained, acks = await closed_loop_max(rig, "cal-")
        await wait_applied(eu_store, acks.last_seq)
        await signal_crr(client, settings, "pause")
        second_alone, acks = await closed_loop_max(rig, "alone2-")
        await signal_crr(client, settings, "resume")
        await wait_applied(eu_store, acks.last_seq)
        report_maximum([first_alone, second_alone], sustained)
        # 3. steady at 70 % of that; 4. a fixed rate, to compare machines.
        steady_rate = min(phases.rate, STEADY_SHARE_OF_MAX * sustained)
        steady = await paced_phase(rig, eu_store, "steady-", steady_rate, phases.seconds)
        report_paced("steady", steady, TARGET_LAG_P99_S)
        report_cpu(steady)
        fixed = await paced_phase(rig, eu_store, "fixed-", phases.fixed_rate, phases.fixed_seconds)
        report_paced("fixed", fixed, None)
        # 5. replay rate: pause eu's replayer, ingest and ship a burst, resume, time the apply.
        burst = sign_parallel(rig.pool, "burst-", BURST_EVENTS)
        start_position = await eu_store.applied_position(STREAM)
        await signal_crr(client, settings, "pause", region="eu")
        _, burst_acks = await ingest_closed_loop(rig.port, batch_bodies(burst.events, BATCH))
        await wait_shipped(eu, start_position, burst_acks.last_seq)
        resumed = time.monotonic()
        await signal_crr(client, settings, "resume", region="eu")
        done = await wait_applied(eu_store, burst_acks.last_seq)
        replayed = burst_acks.last_seq - start_position
        replay_rate = replayed / (done - resumed)
    # 6. the burst's records: raw libsodium verify, replay's own checks, raw COPY.
    measured = await baselines(rig.stack, burst, start_position + 1, rig.pool)
    print(
        f"crr          ship runs follow the stream (woken by each seal), replay runs poll the"
        f" store every {settings.crr.poll_interval_s:.2f}s; a segment is sealed at"
        f" {settings.wal.max_segment_age_s:g} s of age, so lag is at least the wait for the seal"
    )
    report_replay(replayed, replay_rate, measured)


def _component_pids(stack: BenchStack, processes: list[Subprocess]) -> dict[str, int]:
    """Process (group leader) ids of everything that works for replication, by name."""
    pids = {process.name: process.popen.pid for process in processes}
    for name, part in stack.stack.status().items():
        if part.pid is not None and name != "temporal-ui":
            pids[name] = part.pid
    return pids


# --- report ------------------------------------------------------------------------------------


def report_maximum(alones: list[float], sustained: float) -> None:
    alone = sum(alones) / len(alones)
    ratio = sustained / alone
    print(
        f"ingest alone {alone:>9,.0f} events/s at most (8 clients, closed loop, no CRR; mean of"
        f" {alones[0]:,.0f} before CRR started and {alones[1]:,.0f} with it paused)"
    )
    print(f"with CRR     {sustained:>9,.0f} events/s at most (the same, both regions' CRR on)")
    print(
        f"ratio        {ratio:.2f} = with CRR / ingest alone"
        f"  (target >= {TARGET_MAX_RATIO}: {verdict(ratio >= TARGET_MAX_RATIO)})"
    )


def report_paced(name: str, phase: PacedPhase, lag_target_s: float | None) -> None:
    p50, p99 = percentile(phase.lags, 0.5), percentile(phase.lags, 0.99)
    ship50, ship99 = percentile(phase.ship_lags, 0.5), percentile(phase.ship_lags, 0.99)
    target = (
        f"  (target p99 <= {lag_target_s:.0f}s: {verdict(p99 <= lag_target_s)})"
        if lag_target_s is not None
        else ""
    )
    print(
        f"{name:<12} {phase.achieved:>9,.0f} events/s (asked {phase.asked:,.0f};"
        f" {len(phase.lags)} batches)"
    )
    print(
        f"  lag        p50 {p50:.2f}s  p99 {p99:.2f}s  max {max(phase.lags):.2f}s"
        f"  (ack in us -> applied in eu; polled every {POLL_S * 1e3:.0f} ms){target}"
    )
    print(
        f"  ship lag   p50 {ship50:.2f}s  p99 {ship99:.2f}s  max {max(phase.ship_lags):.2f}s"
        f"  (ack -> manifest seen in every ship target, each polled every {POLL_S * 1e3:.0f} ms)"
        f"  (target p99 <= {TARGET_SHIP_LAG_P99_S}s: {verdict(ship99 <= TARGET_SHIP_LAG_P99_S)})"
    )
    print(
        "  lag parts  p50 / p99 of each batch's: "
        + ", ".join(
            f"{part} {percentile(values, 0.5):.2f} / {percentile(values, 0.99):.2f}s"
            for part, values in (
                ("ack->sealed", phase.parts.sealing),
                ("sealed->manifest signed", phase.parts.shipping),
                ("signed->applied", phase.parts.replaying),
            )
        )
    )


# What the children of a process are, where it has some worth naming.
_CHILDREN = {NODE: "verify workers", queues.CRR: "replay workers", "postgres": "backends"}


def report_cpu(phase: PacedPhase) -> None:
    """CPU microseconds per event of each process (and its children) during the phase."""
    per_event: list[str] = []
    for name, (own, children) in phase.cpu.items():
        if name in _CHILDREN:
            per_event.append(f"{name} {own / phase.events * 1e6:.0f} us")
            per_event.append(f"{name} {_CHILDREN[name]} {children / phase.events * 1e6:.0f} us")
        else:
            per_event.append(f"{name} {(own + children) / phase.events * 1e6:.0f} us")
    print("cpu/event    " + ", ".join(per_event))


def report_replay(replayed: int, replay_rate: float, measured: Baselines) -> None:
    ratio = replay_rate / measured.libsodium
    print(f"replay       {replay_rate:>9,.0f} records/s ({replayed:,} records, resume to applied)")
    print(
        f"raw verify   {measured.libsodium:>9,.0f} verifies/s (libsodium Ed25519 alone, same"
        f" records, {os.cpu_count()} processes)"
    )
    print(
        f"checks alone {measured.checks:>9,.0f} records/s (replay's strict decode + verify in its"
        f" workers: {measured.checks / measured.libsodium:.2f}x raw verify)"
    )
    print(
        f"raw COPY     {measured.copy:>9,.0f} records/s (copy_records_to_table, fresh dedup_events)"
    )
    print(
        f"ratio        {ratio:.2f} = replay / raw verify"
        f"  (target >= {TARGET_REPLAY_RATIO}: {verdict(ratio >= TARGET_REPLAY_RATIO)});"
        f" replay / raw COPY = {replay_rate / measured.copy:.2f}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
