"""Cross-region replication under steady ingest: lag from ack in us to applied in eu, and the
replay rate as a ratio to a raw COPY of the same records.

Run: .venv/bin/python tests/perf/bench_crr.py [--rate 5000] [--seconds 60] [--segment-age S]
        [--poll-interval S]

Everything runs on a private embedded stack (Temporal, PostgreSQL, moto S3, fake-gcs-server): the
us ingest node (`geoledger ingest serve`) and the CRR workers (`geoledger worker run --queue
geoledger-crr`, `geoledger-crr-us-n1`, `geoledger-crr-eu-n1`) are subprocesses, and
workers.crr_control.start_crr starts the shippers and replayers.

1. calibrate: 8 clients post batches of 100 pre-signed events as fast as the node answers, for a
   few seconds, with CRR running. If that is below --rate, the machine cannot sustain it: the
   steady phase runs at 70 % of what it sustained instead, and says so.
2. steady: batches of 100 are posted on a fixed schedule for --seconds; each answer's last seq
   and ack time are kept, and eu's applied position of stream us/n1 is polled every 50 ms. A
   batch's lag is the time from its ack to the first poll that sees it applied in eu.
3. replay: with eu's replayer paused, a burst is ingested and shipped; then the replayer resumes
   and the time until eu has applied all of it gives replay records/s.
4. baselines: replay's checks alone on the same records (strict decode and Ed25519 verify in
   worker processes on every core, as replay runs them: the most replay can reach), and the same
   records COPYed (asyncpg copy_records_to_table) into the dedup_events table of a fresh database.

Targets: lag p99 <= 1 s; replay >= 0.5x raw COPY. Exit status 0 whether or not they are met; 1
only when something failed. Bounded: about 3 minutes with the defaults.
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

import asyncpg

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
    Subprocess,
    batch_bodies,
    bench_tenant,
    cpu_seconds,
    http_ok,
    log_says,
    percentile,
    run_async,
    sign_events,
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
BURST_EVENTS = 12_000
VERIFY_SEGMENT = 1_000
STEADY_SHARE_OF_MAX = 0.7
POLL_S = 0.05
CATCH_UP_TIMEOUT_S = 90.0
STREAM = "us/n1"
TARGET_LAG_P99_S = 1.0
TARGET_REPLAY_RATIO = 0.5


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


class AppliedPoller:
    """Polls eu's applied position of us/n1 every POLL_S and records when each value was seen."""

    def __init__(self, store: DedupStore) -> None:
        self._store = store
        self.samples: list[tuple[float, int]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AppliedPoller:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        # One more sample: the caller waited for the last seq, which the cancelled poll may not
        # have seen yet.
        self.samples.append((time.monotonic(), await self._store.applied_position(STREAM)))

    async def _run(self) -> None:
        while True:
            position = await self._store.applied_position(STREAM)
            self.samples.append((time.monotonic(), position))
            await asyncio.sleep(POLL_S)

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


# --- raw COPY baseline -------------------------------------------------------------------------

_COLUMNS = (
    "tenant_id",
    "event_id",
    "hlc",
    "region",
    "node",
    "seq",
    "digest",
    "event",
    "accepted_at_ms",
)


async def raw_copy_rate(stack: BenchStack, records: list[DedupRecord]) -> float:
    """Rows/s of one COPY of `records` into dedup_events of a fresh, migrated database."""
    region = await stack.fresh_region("us", "copybase")
    rows = [tuple(getattr(record, column) for column in _COLUMNS) for record in records]
    conn = await asyncpg.connect(region.shard_dsns[0])
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table("dedup_events", records=rows, columns=_COLUMNS)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return len(rows) / elapsed


def wal_frames(events: list[dict[str, object]], first_seq: int) -> list[tuple[int, bytes]]:
    """(seq, WAL record bytes) of these events as node us/n1 would have written them."""
    hlc0 = time.time_ns() // 1_000_000 << 16
    return [
        (seq, encode_record(wal_record_of(event, seq, hlc0)))
        for seq, event in enumerate(events, start=first_seq)
    ]


async def verify_alone_rate(
    frames: list[tuple[int, bytes]], who: BenchTenant
) -> tuple[float, list[DedupRecord]]:
    """Records/s of replay's checks alone (strict decode + Ed25519 verify, I1) over `frames` in
    segments of VERIFY_SEGMENT, in worker processes on every core as replay runs them; and the
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


# --- orchestration -----------------------------------------------------------------------------


def _sign(prefix: str, count: int) -> list[dict[str, object]]:
    return sign_events(bench_tenant("bench"), prefix, count).events


def sign_parallel(signer: ProcessPoolExecutor, prefix: str, count: int) -> list[dict[str, object]]:
    """Pre-sign `count` events on every core (signing is not what is measured)."""
    workers = os.cpu_count() or 1
    share = -(-count // workers)
    parts = signer.map(
        _sign,
        [f"{prefix}{w}-" for w in range(workers)],
        [min(share, count - w * share) for w in range(workers)],
    )
    return [event for part in parts for event in part]


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
            "ingest-us-n1",
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000, help="steady ingest, events/s")
    parser.add_argument("--seconds", type=float, default=60, help="length of the steady phase")
    parser.add_argument(
        "--segment-age",
        type=float,
        default=None,
        help="the node's wal.max_segment_age_s in seconds (default: the configuration's, 1 s)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="CRR workflows' poll interval in seconds (default: the configuration's)",
    )
    args = parser.parse_args()
    if args.rate < BATCH or args.seconds <= 0:
        print(f"--rate: expected at least {BATCH}; --seconds: expected > 0", file=sys.stderr)
        return 2
    # Started outside the event loop: the stack provisions its databases with asyncio.run.
    with BenchStack(postgres_only=False) as stack:
        tuning = Tuning(args.segment_age, args.poll_interval)
        return run_async(lambda: run(stack, args.rate, args.seconds, tuning))


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


async def run(stack: BenchStack, rate: float, seconds: float, tuning: Tuning) -> None:
    settings, processes, port = await start_cluster(stack, tuning)
    # spawn, not fork: this process runs Temporal client threads. One pool for every phase.
    signer = ProcessPoolExecutor(
        os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn")
    )
    try:
        await run_phases(stack, settings, processes, signer, port, rate, seconds)
    finally:
        signer.shutdown(cancel_futures=True)
        for process in processes:
            process.stop()


async def run_phases(
    stack: BenchStack,
    settings: Settings,
    processes: list[Subprocess],
    signer: ProcessPoolExecutor,
    port: int,
    rate: float,
    seconds: float,
) -> None:
    client = await connect(settings)
    await start_crr(client, settings)
    eu = settings.region("eu")
    async with await DedupStore.open(eu) as eu_store:
        # 1. calibrate, with CRR running; then let eu catch up so the steady phase starts level.
        calibration = sign_parallel(signer, "cal-", CALIBRATE_EVENTS)
        sustained, acks = await ingest_closed_loop(port, batch_bodies(calibration, BATCH))
        await wait_applied(eu_store, acks.last_seq)
        steady_rate = min(rate, STEADY_SHARE_OF_MAX * sustained)
        print(f"calibration  {sustained:>9,.0f} events/s sustained at most (8 clients, CRR on)")
        if steady_rate < rate:
            print(
                f"             this machine cannot sustain {rate:,.0f} events/s: the steady phase"
                f" runs at {steady_rate:,.0f} events/s ({STEADY_SHARE_OF_MAX:.0%} of that)"
            )
        # 2. steady ingest, lag sampled by polling eu.
        steady = sign_parallel(signer, "steady-", int(steady_rate * seconds) // BATCH * BATCH)
        pids = _component_pids(stack, processes)
        cpu_before = {name: cpu_seconds([pid]) for name, pid in pids.items()}
        async with AppliedPoller(eu_store) as poller:
            achieved, acks = await ingest_paced(port, batch_bodies(steady, BATCH), steady_rate)
            await wait_applied(eu_store, acks.last_seq)
        cpu = {name: cpu_seconds([pid]) - cpu_before[name] for name, pid in pids.items()}
        lags = poller.lags(acks)
        parts = await lag_parts(settings, acks, poller)
        print(
            "cpu/event    "
            + ", ".join(f"{name} {used / len(steady) * 1e6:.0f} us" for name, used in cpu.items())
        )
        # 3. replay rate: pause eu's replayer, ingest and ship a burst, resume, time the apply.
        burst = sign_parallel(signer, "burst-", BURST_EVENTS)
        start_position = await eu_store.applied_position(STREAM)
        await signal_crr(client, settings, "pause", region="eu")
        _, burst_acks = await ingest_closed_loop(port, batch_bodies(burst, BATCH))
        await wait_shipped(eu, start_position, burst_acks.last_seq)
        resumed = time.monotonic()
        await signal_crr(client, settings, "resume", region="eu")
        done = await wait_applied(eu_store, burst_acks.last_seq)
        replayed = burst_acks.last_seq - start_position
        replay_rate = replayed / (done - resumed)
    # 4. the same burst's records: replay's checks alone, then COPYed raw into a fresh table.
    verify_rate, records = await verify_alone_rate(
        wal_frames(burst, start_position + 1), bench_tenant("bench")
    )
    copy_rate = await raw_copy_rate(stack, records)
    print(
        f"crr          poll interval {settings.crr.poll_interval_s:.2f}s; a segment is sealed at"
        f" {settings.wal.max_segment_age_s:g} s of age, so lag is at least the wait for the seal"
        " plus up to two polls"
    )
    report(steady_rate, achieved, seconds, lags, replayed, replay_rate, copy_rate, verify_rate)
    print(
        "lag parts    p50 / p99 of each batch's: "
        + ", ".join(
            f"{name} {percentile(values, 0.5):.2f} / {percentile(values, 0.99):.2f}s"
            for name, values in (
                ("ack->sealed", parts.sealing),
                ("sealed->manifest", parts.shipping),
                ("manifest->applied", parts.replaying),
            )
        )
    )


def _component_pids(stack: BenchStack, processes: list[Subprocess]) -> dict[str, int]:
    """Process (group leader) ids of everything that works for replication, by name."""
    pids = {process.name: process.popen.pid for process in processes}
    for name, part in stack.stack.status().items():
        if part.pid is not None and name != "temporal-ui":
            pids[name] = part.pid
    return pids


def report(
    steady_rate: float,
    achieved: float,
    seconds: float,
    lags: list[float],
    replayed: int,
    replay_rate: float,
    copy_rate: float,
    verify_rate: float,
) -> None:
    p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
    ratio = replay_rate / copy_rate
    print(
        f"steady       {achieved:>9,.0f} events/s for {seconds:.0f}s"
        f" (asked {steady_rate:,.0f}; {len(lags)} batches)"
    )
    print(
        f"lag          p50 {p50:.2f}s  p99 {p99:.2f}s  max {max(lags):.2f}s"
        f"  (ack in us -> applied in eu; polled every {POLL_S * 1e3:.0f} ms)"
        f"  (target p99 <= {TARGET_LAG_P99_S:.0f}s: {verdict(p99 <= TARGET_LAG_P99_S)})"
    )
    print(f"replay       {replay_rate:>9,.0f} records/s ({replayed:,} records, resume to applied)")
    print(f"raw COPY     {copy_rate:>9,.0f} records/s (copy_records_to_table, fresh dedup_events)")
    print(
        f"checks alone {verify_rate:>9,.0f} records/s (strict decode + Ed25519 verify, I1, on"
        f" {os.cpu_count()} cores: {verify_rate / copy_rate:.2f}x raw COPY, replay's ceiling)"
    )
    print(
        f"ratio        {ratio:.2f} = replay / raw COPY"
        f"  (target >= {TARGET_REPLAY_RATIO}: {verdict(ratio >= TARGET_REPLAY_RATIO)});"
        f" replay / checks alone = {replay_rate / verify_rate:.2f}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
