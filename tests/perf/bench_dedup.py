"""Raw apply rate of the dedup store, in records per second, on a private embedded PostgreSQL.

Run: .venv/bin/python tests/perf/bench_dedup.py [--records N]

For batch sizes 100 and 1000 it measures three workloads on a 2-shard region: new keys (every
record becomes a winner), re-applying the same records (every record is a no-op duplicate), and
earlier rivals (every record displaces the winner, which moves to dedup_copies). Event bytes are
~400 bytes, like a small signed event. Each batch is one `apply` call, awaited before the next.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from ledger.config import load_settings
from storage.dedup import DedupRecord, DedupStore, migrate_region
from storage.embedded.config_template import render_dev_config
from storage.embedded.postgres import EmbeddedPostgres
from storage.embedded.process import free_port

EVENT_BYTES = 400


def make_records(count: int, hlc: int, node: str, prefix: str) -> list[DedupRecord]:
    return [
        DedupRecord(
            tenant_id="bench",
            event_id=f"{prefix}{i:08d}",
            hlc=hlc + i,
            region="us",
            node=node,
            seq=i + 1,
            digest=hashlib.sha256(f"{prefix}{i}".encode()).digest(),
            event=(b'{"payload":"' + b"x" * EVENT_BYTES)[:EVENT_BYTES] + b'"}',
            accepted_at_ms=1_700_000_000_000 + i,
        )
        for i in range(count)
    ]


async def timed(store: DedupStore, records: list[DedupRecord], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        await store.apply(records[start : start + batch])
    return len(records) / (time.perf_counter() - started)


async def run(postgres: EmbeddedPostgres, total: int) -> None:
    for batch in (100, 1000):
        names = [f"bench{batch}_control", f"bench{batch}_shard0", f"bench{batch}_shard1"]
        await postgres.ensure_databases(names)
        dsns = [postgres.dsn(name) for name in names]
        settings = load_settings(_config_file(postgres.port))
        region = settings.region("us").model_copy(
            update={"control_dsn": dsns[0], "shard_dsns": dsns[1:]}
        )
        await migrate_region(region)
        async with await DedupStore.open(region) as store:
            late = make_records(total, hlc=1_000_000, node="n2", prefix=f"b{batch}-")
            early = make_records(total, hlc=1, node="n1", prefix=f"b{batch}-")
            rates = {
                "new keys": await timed(store, late, batch),
                "re-apply (duplicates)": await timed(store, late, batch),
                "earlier rivals (displace)": await timed(store, early, batch),
            }
        for workload, rate in rates.items():
            print(f"batch {batch:5d}  {workload:28s} {rate:10,.0f} records/s")


def _config_file(port: int) -> Path:
    from ledger.config import DevStackConfig

    path = Path(tempfile.mkdtemp(prefix="bench-dedup-cfg-")) / "geoledger.toml"
    path.write_text(render_dev_config(DevStackConfig(postgres_port=port)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per workload")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    postgres = EmbeddedPostgres(state / "postgres", free_port())
    postgres.start()
    try:
        asyncio.run(run(postgres, args.records))
    finally:
        postgres.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
