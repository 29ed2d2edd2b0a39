"""What the benchmarks share: the embedded stack (or only its PostgreSQL) on private loopback ports
in a temp dir, fresh migrated databases, pre-signed events, `geoledger` subprocesses, CPU
accounting, and the way figures are printed.

Benchmarks are scripts, not tests: they start what they need, run bounded in time, print figures
as ratios against baselines measured in the same run, and exit non-zero only on a real failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.signing import VerifyKey

from ledger.config import DevStackConfig, RegionConfig, Settings, load_settings
from ledger.envelope import EventEnvelope, parse_signed_event
from ledger.keys import key_id_for, private_key_from_seed
from ledger.record import WalRecord
from ledger.signing import sign, signing_input
from storage.dedup.migrate import migrate_region
from storage.embedded.config_template import render_dev_config
from storage.embedded.postgres import EmbeddedPostgres
from storage.embedded.process import free_port
from storage.embedded.s3 import DEV_CREDENTIALS
from storage.embedded.stack import EmbeddedStack

GEOLEDGER = str(Path(sys.executable).parent / "geoledger")
# Interpreter start-up plus imports on a loaded 2-core machine.
START_TIMEOUT_S = 90.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchFailure(Exception):
    """Something the benchmark relies on did not work: a real failure, not a missed target."""


# --- the stack ---------------------------------------------------------------------------------


class BenchStack:
    """The embedded stack in a temp dir with private ports. `postgres_only` starts just the
    database server (the ingest node needs nothing else); otherwise all four parts."""

    def __init__(self, postgres_only: bool) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="geoledger-bench-"))
        self.config_path = self.root / "geoledger.toml"
        dev = DevStackConfig(
            state_dir=self.root / "state",
            temporal_port=free_port(),
            temporal_ui_port=free_port(),
            postgres_port=free_port(),
            s3_port=free_port(),
            gcs_port=free_port(),
        )
        # Ingest and witness ports of its own: a `make demo` may hold the defaults.
        ports = [free_port() for _ in range(4)]
        self.config_path.write_text(render_dev_config(dev, *ports))
        self.settings = load_settings(self.config_path)
        self._postgres_only = postgres_only
        self._stack = EmbeddedStack(self.settings)
        self.postgres: EmbeddedPostgres = self._stack.postgres
        self._started = False

    def __enter__(self) -> BenchStack:
        for name, value in DEV_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        try:
            if self._postgres_only:
                self.postgres.start()
            else:
                self._stack.up()
            self._started = True
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._postgres_only:
                self.postgres.stop()
            else:
                self._stack.down()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def stack(self) -> EmbeddedStack:
        return self._stack

    async def fresh_region(self, region: str, tag: str, shards: int = 2) -> RegionConfig:
        """`region`'s configuration with its own new databases (control + `shards` shards,
        migrated, routed on a ring of all of them) and its own WAL directory, so nothing another
        measurement wrote is seen."""
        base = self.settings.region(region)
        names = [f"{tag}_control", *(f"{tag}_shard{i}" for i in range(shards))]
        await self.postgres.ensure_databases(names)
        dsns = [self.postgres.dsn(name) for name in names]
        config = base.model_copy(
            update={
                "control_dsn": dsns[0],
                "shard_dsns": dsns[1:],
                "initial_ring": shards,
                "wal_dir": self.root / "wal" / tag,
            }
        )
        await migrate_region(config)
        os.makedirs(config.wal_dir, exist_ok=True)
        return config

    def with_regions(self, regions: dict[str, RegionConfig]) -> Settings:
        return self.settings.model_copy(update={"regions": regions})

    def env_for(self, settings: Settings) -> dict[str, str]:
        """Environment for a `geoledger` subprocess that loads exactly `settings`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEOLEDGER_")}
        env["GEOLEDGER_CONFIG"] = str(self.config_path)
        env["GEOLEDGER_REGIONS"] = json.dumps(
            {name: region.model_dump(mode="json") for name, region in settings.regions.items()}
        )
        return env


# --- subprocesses ------------------------------------------------------------------------------


@dataclass
class Subprocess:
    """One `geoledger ...` process this benchmark started, in its own process group."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout_s: float = 15.0, sig: signal.Signals = signal.SIGTERM) -> None:
        """`sig` to its group (a graceful stop), SIGKILL when it has not exited in time.

        uvicorn re-raises the signal it stopped on; SIGINT then ends the process with
        KeyboardInterrupt, which lets cProfile write its stats (SIGTERM would not)."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def start_geoledger(
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    log_dir: Path,
    profile_to: Path | None = None,
) -> Subprocess:
    """`geoledger <args>`; with `profile_to`, under cProfile writing its stats there on exit."""
    prefix = [sys.executable, "-m", "cProfile", "-o", str(profile_to)] if profile_to else []
    return start_process(name, [*prefix, GEOLEDGER, *args], env, log_dir)


def start_process(
    name: str, command: Sequence[str], env: dict[str, str], log_dir: Path
) -> Subprocess:
    """`command` in a process group of its own, its output in `log_dir`/`name`.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return Subprocess(name, popen, log_path)


def wait_for(
    what: Subprocess, ready: Callable[[], bool], timeout_s: float = START_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not what.alive():
            raise BenchFailure(f"{what.name} exited early:\n{what.log_tail()}")
        if ready():
            return
        time.sleep(0.2)
    raise BenchFailure(f"{what.name} not ready after {timeout_s:.0f}s:\n{what.log_tail()}")


def http_ok(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def log_says(process: Subprocess, text: str) -> Callable[[], bool]:
    return lambda: text in process.log_tail(200_000)


@contextlib.contextmanager
def running(*processes: Subprocess) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            process.stop()


class RawHttpClient:
    """A minimal HTTP/1.1 keep-alive client: the load generator shares the machine's two cores
    with the node and PostgreSQL, so it should cost as little CPU per request as possible."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        reused = self._writer is not None
        status_line = await self._send(path, body)
        if not status_line and reused:
            # The server closes a keep-alive connection left idle past its timeout (uvicorn: 5 s)
            # without reading what was sent on it; a new connection carries the request.
            await self.close()
            status_line = await self._send(path, body)
        if not status_line:
            raise BenchFailure("the node closed the connection")
        assert self._reader is not None
        status = int(status_line.split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def _send(self, path: str, body: bytes) -> bytes:
        """Write one request (connecting first when needed); its status line, b"" on EOF."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._writer.write(head + body)
        try:
            return await self._reader.readline()
        except ConnectionResetError:
            return b""

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._reader, self._writer = self._writer, None, None
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


# --- CPU accounting ----------------------------------------------------------------------------


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU time of this one process (all its threads), without its children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes and all their descendants, living ones only."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    total, todo, seen = 0.0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += times.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def cpu_split(pids: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Per name: (CPU seconds of the process itself, of all its living descendants)."""
    return {
        name: (own_cpu_seconds(pid), cpu_seconds([pid]) - own_cpu_seconds(pid))
        for name, pid in pids.items()
    }


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (every core), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLK_TCK


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchTenant:
    tenant_id: str
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id_for(self.private_key.public_key())

    @property
    def public_raw(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


def bench_tenant(tenant_id: str) -> BenchTenant:
    seed = hashlib.sha256(f"geoledger-bench-tenant-{tenant_id}".encode()).digest()
    return BenchTenant(tenant_id, private_key_from_seed(seed))


def payload_for(index: int) -> dict[str, Any]:
    """A small order-like payload (~200 bytes of JSON), different for every event."""
    return {
        "order_id": f"ord-{index:09d}",
        "customer": {"id": f"cus-{index % 977:05d}", "tier": "gold" if index % 7 else "silver"},
        "lines": [
            {"sku": f"sku-{index % 101:04d}", "qty": 1 + index % 3, "price_cents": 1299},
            {"sku": "sku-0042", "qty": 1, "price_cents": 499},
        ],
        "currency": "EUR",
        "note": "Lieferung bis Freitag",
    }


@dataclass(frozen=True)
class SignedSet:
    """Pre-signed events: the wire dicts, and per event its signing input and raw signature."""

    events: list[dict[str, Any]]
    signing_inputs: list[bytes]
    signatures: list[bytes]


def sign_events(who: BenchTenant, prefix: str, count: int) -> SignedSet:
    events: list[dict[str, Any]] = []
    inputs: list[bytes] = []
    signatures: list[bytes] = []
    for index in range(count):
        envelope = EventEnvelope.model_validate(
            {
                "tenant_id": who.tenant_id,
                "event_id": f"{prefix}{index:08d}",
                "key_id": who.key_id,
                "occurred_at": "2026-11-25T12:00:00.123Z",
                "type": "order.created",
                "payload": payload_for(index),
            }
        )
        signature = sign(who.private_key, envelope)
        events.append({**envelope.envelope_dict(), "signature": signature})
        inputs.append(signing_input(envelope))
        signatures.append(base64.urlsafe_b64decode(signature + "=="))
    return SignedSet(events, inputs, signatures)


def wal_record_of(event: dict[str, Any], seq: int, hlc0: int) -> WalRecord:
    """The record node us/n1 writes for `event` at `seq`, its clock starting at `hlc0`."""
    return WalRecord(
        hlc=hlc0 + seq,
        region="us",
        node="n1",
        accepted_at_ms=hlc0 >> 16,
        event=parse_signed_event(event),
    )


def batch_bodies(events: Sequence[dict[str, Any]], size: int) -> list[tuple[int, bytes]]:
    """(event count, request body) per batch of `size` events."""
    return [
        (len(events[i : i + size]), json.dumps({"events": events[i : i + size]}).encode())
        for i in range(0, len(events), size)
    ]


def _sign_part(prefix: str, count: int) -> SignedSet:
    return sign_events(bench_tenant("bench"), prefix, count)


def sign_parallel(signer: ProcessPoolExecutor, prefix: str, count: int) -> SignedSet:
    """Pre-sign `count` events of tenant "bench" on every core (signing is not measured)."""
    workers = os.cpu_count() or 1
    share = -(-count // workers)
    counts = [max(0, min(share, count - w * share)) for w in range(workers)]
    parts = list(signer.map(_sign_part, [f"{prefix}{w}-" for w in range(workers)], counts))
    return SignedSet(
        [event for part in parts for event in part.events],
        [item for part in parts for item in part.signing_inputs],
        [item for part in parts for item in part.signatures],
    )


# --- raw baselines: what the machine can do without the project's code ------------------------


def _libsodium_verify_chunk(public_raw: bytes, pairs: list[tuple[bytes, bytes]]) -> int:
    key = VerifyKey(public_raw)
    for signature, message in pairs:
        key.verify(message, signature)  # raises BadSignatureError: a real failure
    return len(pairs)


def raw_verify_rate(signed: SignedSet, public_raw: bytes, pool: ProcessPoolExecutor) -> float:
    """Ed25519 verifies per second of `signed` through libsodium (PyNaCl) alone, one process per
    core (`pool`), in chunks of a few hundred: the signature check the node and the replayer
    run, without decoding, canonical JSON or anything else."""
    pairs = list(zip(signed.signatures, signed.signing_inputs, strict=True))
    workers = os.cpu_count() or 1
    size = max(100, min(1000, -(-len(pairs) // (workers * 8))))
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    # Warm every worker first: process start and imports are not what is measured.
    list(pool.map(_libsodium_verify_chunk, [public_raw] * workers, [pairs[:50]] * workers))
    started = time.perf_counter()
    done = sum(pool.map(_libsodium_verify_chunk, [public_raw] * len(chunks), chunks))
    return done / (time.perf_counter() - started)


def libsodium_cpu_per_verify(signed: SignedSet, public_raw: bytes) -> float:
    """CPU seconds of one verify in this process: what a verify costs when it has a core."""
    pairs = list(zip(signed.signatures, signed.signing_inputs, strict=True))[:2000]
    started = time.process_time()
    _libsodium_verify_chunk(public_raw, pairs)
    return (time.process_time() - started) / len(pairs)


# The dedup_events columns a record fills (migration 0003), in DedupRecord's attribute names.
DEDUP_EVENT_COLUMNS = (
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
_RAW_STAGING = "CREATE TEMP TABLE raw_staging (LIKE dedup_events INCLUDING DEFAULTS)"
_RAW_UPSERT = (
    f"INSERT INTO dedup_events ({', '.join(DEDUP_EVENT_COLUMNS)})"
    f" SELECT {', '.join(DEDUP_EVENT_COLUMNS)} FROM raw_staging ON CONFLICT DO NOTHING"
)


def dedup_rows(records: Sequence[Any]) -> list[tuple[Any, ...]]:
    """`records` (DedupRecord) as dedup_events rows."""
    return [tuple(getattr(record, column) for column in DEDUP_EVENT_COLUMNS) for record in records]


async def raw_copy_rate(dsn: str, rows: list[tuple[Any, ...]]) -> float:
    """Rows/s of one COPY of `rows` into dedup_events of the (fresh) database at `dsn`."""
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table("dedup_events", records=rows, columns=DEDUP_EVENT_COLUMNS)
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def raw_upsert_rate(dsn: str, rows: list[tuple[Any, ...]]) -> float:
    """Rows/s of plain SQL, not the project's apply: COPY of `rows` into a temp table, then one
    INSERT ... ON CONFLICT DO NOTHING into dedup_events of the (fresh) database at `dsn`, in one
    transaction. Raises BenchFailure unless every row became a winner."""
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(_RAW_STAGING)
            await conn.copy_records_to_table(
                "raw_staging", records=rows, columns=DEDUP_EVENT_COLUMNS
            )
            inserted = await conn.execute(_RAW_UPSERT)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    if inserted != f"INSERT 0 {len(rows)}":
        raise BenchFailure(f"raw upsert: expected INSERT 0 {len(rows)}, got {inserted}")
    return len(rows) / elapsed


# --- figures -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; requires a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def verdict(met: bool) -> str:
    return "target met" if met else "target missed"


def run_async(main: Callable[[], Any]) -> int:
    """Run a benchmark's async main; exit status 1 (with the reason) on a real failure."""
    try:
        asyncio.run(main())
    except BenchFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0
