"""Per-record cost of the dedup apply, as a ratio to raw PostgreSQL writes of the same rows.

Run: .venv/bin/python tests/perf/bench_dedup.py [--records 20000] [--prefill 200000]
                                                 [--batches 100,1000]

One private embedded PostgreSQL with its default durability (fsync and synchronous_commit on, as
in production). A template shard database is migrated and prefilled with `--prefill` winners
(random keys over 16 tenants, ~470-byte events, 2 % of the keys with a copy); every measurement
runs on its own clone of it (CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY), so each starts
from the same table right after a checkpoint. For each batch size, the same rows go through:

- raw COPY: `copy_records_to_table` into dedup_events, one COPY per batch. New keys only: a COPY
  of keys that exist fails, so that column repeats the new-keys figure for the other workloads.
- raw upsert: one `INSERT INTO dedup_events SELECT ... FROM unnest(...) ON CONFLICT DO NOTHING`
  per batch, each its own implicit transaction.
- apply: `DedupStore.apply(batch, stream=..., through_seq=...)` on a one-shard region whose shard
  is the clone, awaited batch after batch, as an ingest node calls it.

Workloads: new keys (every record becomes a winner); retries (a client sent each event again:
new records of another node, later hlcs, same content, so each is a duplicate kept in
dedup_copies); re-apply (the very same records again, as after a crash: each is a no-op);
replay in another order (the same records into a fresh clone, batches shuffled and each batch
shuffled: the two clones' dump digests must be equal, invariant I3, or the bench fails);
earlier rivals (records of another node with earlier hlcs for the same keys: every winner is
displaced into dedup_copies). For the last three, a raw upsert can only skip the rows, so those
ratios compare the apply with the cheapest statement that touches the keys.

`--horizons` gives every tenant a retention horizon (migration 0007) below all of its records:
the apply then looks the horizons up and checks each record against them, refusing none, which is
what a store whose tenants all have a retention pays over one whose tenants have none.

Figures are per record: the client's wall time and the CPU of every PostgreSQL process (/proc).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg

# Run as a script (`make bench`): the repository root must be importable for `tests.perf`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger.config import DevStackConfig, RegionConfig, load_settings
from storage.dedup import DedupRecord, DedupStore, migrate_region
from storage.dedup.migrate import migrate_database
from storage.embedded.config_template import render_dev_config
from storage.embedded.postgres import EmbeddedPostgres
from storage.embedded.process import free_port
from tests.perf._stack import BenchFailure, cpu_seconds, run_async

EVENT = b'{"event_id":"x","payload":{"k":"' + b"v" * 420 + b'"}}'
COLUMNS = [
    "tenant_id", "event_id", "hlc", "region", "node", "seq", "digest", "event", "accepted_at_ms"
]  # fmt: skip
COPY_COLUMNS = ["tenant_id", "event_id", "region", "node", "seq", "hlc", "digest"]
TEMPLATE = "bench_dedup_template"
TENANTS = 16
"""Tenants the keys are spread over."""
PREFILL_CHUNK = 50_000

RAW_UPSERT = """
INSERT INTO dedup_events
    (tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
                     $7::bytea[], $8::bytea[], $9::bigint[])
ON CONFLICT DO NOTHING
"""


def make_records(first: int, count: int, *, seed: bytes, node: str, hlc0: int) -> list[DedupRecord]:
    """`count` records of stream us/`node` with seqs from `first`, keys random but reproducible
    (a client's UUID-like event ids land all over the primary key, as in production)."""
    records = []
    for i in range(first, first + count):
        h = hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        records.append(
            DedupRecord(
                tenant_id=f"t{h[0] % TENANTS:02d}",
                event_id=h[1:17].hex(),
                hlc=hlc0 + i,
                region="us",
                node=node,
                seq=i,
                digest=hashlib.sha256(h).digest(),
                event=EVENT,
                accepted_at_ms=1_700_000_000_000 + i,
            )
        )
    return records


def row(record: DedupRecord) -> tuple[Any, ...]:
    r = record
    return (r.tenant_id, r.event_id, r.hlc, r.region, r.node, r.seq, r.digest, r.event,
            r.accepted_at_ms)  # fmt: skip


def batches(records: Sequence[DedupRecord], size: int) -> list[Sequence[DedupRecord]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


@dataclass
class Cost:
    """Per-record cost of one method on one workload."""

    wall_us: float
    pg_cpu_us: float


class Bench:
    def __init__(self, postgres: EmbeddedPostgres, control_dsn: str, settings_region: RegionConfig):
        self.postgres = postgres
        self.control_dsn = control_dsn
        self.base_region = settings_region
        self.clones = 0

    async def clone(self) -> str:
        """A new database that is a copy of the prefilled template."""
        self.clones += 1
        name = f"bench_dedup_{self.clones}"
        conn = await asyncpg.connect(self.postgres.dsn())
        try:
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        finally:
            await conn.close()
        return name

    async def drop(self, name: str) -> None:
        conn = await asyncpg.connect(self.postgres.dsn())
        try:
            await conn.execute(f"DROP DATABASE {name}")
        finally:
            await conn.close()

    async def timed(self, work: Callable[[], Awaitable[None]], count: int) -> Cost:
        pid = self.postgres.pid()
        assert pid is not None
        cpu_before = cpu_seconds([pid])
        started = time.perf_counter()
        await work()
        wall = time.perf_counter() - started
        cpu = cpu_seconds([pid]) - cpu_before
        return Cost(wall / count * 1e6, cpu / count * 1e6)

    async def raw_copy(self, records: Sequence[DedupRecord], size: int) -> Cost:
        name = await self.clone()
        conn = await asyncpg.connect(self.postgres.dsn(name))
        try:
            chunks = [[row(r) for r in chunk] for chunk in batches(records, size)]

            async def work() -> None:
                for rows in chunks:
                    await conn.copy_records_to_table("dedup_events", records=rows, columns=COLUMNS)

            return await self.timed(work, len(records))
        finally:
            await conn.close()
            await self.drop(name)

    async def raw_upsert(self, workloads: Sequence[Sequence[DedupRecord]], size: int) -> list[Cost]:
        """Each workload's records in turn, into one clone."""
        name = await self.clone()
        conn = await asyncpg.connect(self.postgres.dsn(name))
        costs = []
        try:
            await conn.execute(RAW_UPSERT, *columns([]))  # prepare outside the timing
            for records in workloads:
                chunks = [columns(chunk) for chunk in batches(records, size)]

                async def work(chunks: list[list[Any]] = chunks) -> None:
                    for args in chunks:
                        await conn.execute(RAW_UPSERT, *args)

                costs.append(await self.timed(work, len(records)))
        finally:
            await conn.close()
            await self.drop(name)
        return costs

    async def apply(
        self, workloads: Sequence[Sequence[Sequence[DedupRecord]]]
    ) -> tuple[list[Cost], str]:
        """Each workload (a list of batches) in turn, through DedupStore.apply on one clone;
        returns the costs and the clone's dump digest after the first workload."""
        name = await self.clone()
        region = self.base_region.model_copy(
            update={"control_dsn": self.control_dsn, "shard_dsns": [self.postgres.dsn(name)]}
        )
        costs, digest = [], ""
        try:
            async with await DedupStore.open(region) as store:
                await store.apply([], stream="us/warm", through_seq=1)  # connect outside timing
                for index, chunks in enumerate(workloads):

                    async def work(chunks: Sequence[Sequence[DedupRecord]] = chunks) -> None:
                        for chunk in chunks:
                            stream = f"{chunk[0].region}/{chunk[0].node}"
                            await store.apply(chunk, stream=stream, through_seq=chunk[-1].seq)

                    costs.append(await self.timed(work, sum(len(c) for c in chunks)))
                    if index == 0:
                        digest = await store.dump_digest_total()
        finally:
            await self.drop(name)
        return costs, digest


def columns(records: Sequence[DedupRecord]) -> list[list[Any]]:
    rows = [row(r) for r in records]
    return [[r[i] for r in rows] for i in range(len(COLUMNS))]


async def prefill(postgres: EmbeddedPostgres, count: int, horizons: bool) -> None:
    """The template: a migrated shard with `count` winners and count/50 copies, vacuumed; with
    `horizons`, every tenant has a retention horizon below all of its records."""
    conn = await asyncpg.connect(postgres.dsn())
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(postgres.dsn(TEMPLATE))
    try:
        await migrate_database(conn, "shard")
        for first in range(1, count + 1, PREFILL_CHUNK):
            chunk = make_records(
                first, min(PREFILL_CHUNK, count + 1 - first), seed=b"prefill", node="n0", hlc0=1
            )
            await conn.copy_records_to_table(
                "dedup_events", records=[row(r) for r in chunk], columns=COLUMNS
            )
            rivals = [
                (r.tenant_id, r.event_id, "eu", "n0", r.seq, r.hlc + 7, r.digest)
                for r in chunk[::50]
            ]
            await conn.copy_records_to_table("dedup_copies", records=rivals, columns=COPY_COLUMNS)
        if horizons:
            await conn.executemany(
                "INSERT INTO retention_horizons (tenant_id, horizon_hlc, as_of_ms) "
                "VALUES ($1, 0, 0)",
                [(f"t{tenant:02d}",) for tenant in range(TENANTS)],
            )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def shuffled_batches(records: Sequence[DedupRecord], size: int) -> list[list[DedupRecord]]:
    """The same records in another order: batches shuffled, and each batch shuffled."""
    rng = random.Random(7)
    chunks = [list(chunk) for chunk in batches(records, size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        rng.shuffle(chunk)
    return chunks


def ratio(a: float, b: float) -> str:
    return f"{a / b:5.1f}x" if b > 0 else "  n/a"


async def measure(bench: Bench, total: int, size: int) -> None:
    new = make_records(1, total, seed=b"new", node="n1", hlc0=1 << 40)
    retries = [replace(r, node="n3", hlc=r.hlc + (1 << 39)) for r in new]
    rivals = [replace(r, node="n2", hlc=r.hlc - (1 << 39)) for r in new]
    ordered = batches(new, size)

    copy_cost = await bench.raw_copy(new, size)
    upsert_new, upsert_retries, upsert_again, upsert_rivals = await bench.raw_upsert(
        [new, retries, new, rivals], size
    )
    upsert_shuffled = (await bench.raw_upsert([new], size))[0]  # fresh clone, like the replay
    (apply_new, apply_retries, apply_again, apply_rivals), digest = await bench.apply(
        [ordered, batches(retries, size), ordered, batches(rivals, size)]
    )
    (apply_shuffled,), shuffled_digest = await bench.apply([shuffled_batches(new, size)])
    if digest != shuffled_digest:
        raise BenchFailure(
            f"batch {size}: the dump after a replay in another order differs (I3): "
            f"{digest} != {shuffled_digest}"
        )

    rows = [
        ("new keys", apply_new, upsert_new),
        ("retries (duplicates)", apply_retries, upsert_retries),
        ("re-apply (no-ops)", apply_again, upsert_again),
        ("replay, another order", apply_shuffled, upsert_shuffled),
        ("earlier rivals (displace)", apply_rivals, upsert_rivals),
    ]
    print(f"\nbatch {size}, {total:,} records per workload; us per record: wall (PostgreSQL CPU)")
    print(
        f"  {'workload':26s} {'apply':>15s} {'raw upsert':>15s} {'raw COPY':>15s}"
        f"   apply/upsert     apply/COPY"
    )
    for workload, apply_cost, upsert_cost in rows:
        costs = (apply_cost, upsert_cost, copy_cost)
        print(
            f"  {workload:26s} "
            + " ".join(f"{c.wall_us:6.1f} ({c.pg_cpu_us:5.1f})" for c in costs)
            + f"   {ratio(apply_cost.wall_us, upsert_cost.wall_us)} "
            f"({ratio(apply_cost.pg_cpu_us, upsert_cost.pg_cpu_us)})"
            f"  {ratio(apply_cost.wall_us, copy_cost.wall_us)} "
            f"({ratio(apply_cost.pg_cpu_us, copy_cost.pg_cpu_us)})"
        )
    print(f"  dump digest after new keys == after the replay in another order: {digest[:16]}…")


async def run(postgres: EmbeddedPostgres, args: argparse.Namespace, state: Path) -> None:
    started = time.perf_counter()
    await prefill(postgres, args.prefill, args.horizons)
    await postgres.ensure_databases(["bench_dedup_control"])
    control_dsn = postgres.dsn("bench_dedup_control")
    base = load_settings(_config_file(postgres.port, state)).region("us")
    region = base.model_copy(update={"control_dsn": control_dsn, "shard_dsns": [control_dsn]})
    # The control database's schema and its one-shard route (the shard DSN is replaced per clone).
    await migrate_region(region.model_copy(update={"shard_dsns": [postgres.dsn(TEMPLATE)]}))
    bench = Bench(postgres, control_dsn, region)
    print(
        f"prefilled {args.prefill:,} winners in {time.perf_counter() - started:.1f}s; "
        "PostgreSQL with fsync and synchronous_commit on"
    )
    for size in args.batches:
        await measure(bench, args.records, size)


def _config_file(port: int, directory: Path) -> Path:
    path = directory / "geoledger.toml"
    path.write_text(render_dev_config(DevStackConfig(postgres_port=port)))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per workload")
    parser.add_argument("--prefill", type=int, default=200_000, help="winners already stored")
    parser.add_argument(
        "--batches",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[100, 1000],
        help="batch sizes, comma-separated",
    )
    parser.add_argument(
        "--horizons", action="store_true", help="give every tenant a retention horizon"
    )
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    postgres = EmbeddedPostgres(state / "postgres", free_port())
    postgres.start()
    try:
        return run_async(lambda: run(postgres, args, state))
    finally:
        postgres.stop("immediate")
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
