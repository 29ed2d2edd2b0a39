"""Micro benchmark of WAL group commit: appends/s for 1 appender vs N concurrent appenders.

    .venv/bin/python -m tests.perf.bench_wal [--appends 2000] [--record-bytes 512] [--dir PATH]

Each append is one record and returns only after its fsync, so one appender is bounded by the
fsync latency; concurrent appenders share fsyncs. Put --dir on the disk you want to measure.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from storage.wal import WalWriter
from tests.support.wal import SEGMENT_LIMITS


async def bench(directory: Path, appenders: int, appends: int, record_bytes: int) -> None:
    groups: list[int] = []
    fsync_seconds: list[float] = []

    def on_commit(records: int, seconds: float) -> None:
        groups.append(records)
        fsync_seconds.append(seconds)

    record = b"x" * record_bytes
    async with await WalWriter.open(
        directory, "bench/n1", on_commit=on_commit, **SEGMENT_LIMITS
    ) as writer:

        async def appender(count: int) -> None:
            for _ in range(count):
                await writer.append([record])

        started = time.perf_counter()
        await asyncio.gather(*(appender(appends // appenders) for _ in range(appenders)))
        elapsed = time.perf_counter() - started
    done = appends // appenders * appenders
    fsync_seconds.sort()
    print(
        f"{appenders:>3} appender(s): {done / elapsed:>9.0f} appends/s, "
        f"{len(groups):>5} commits, {done / len(groups):5.1f} records/commit, "
        f"fsync p50 {fsync_seconds[len(fsync_seconds) // 2] * 1e3:.2f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--record-bytes", type=int, default=512)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    for appenders in (1, 8, 64):
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-wal-") as scratch:
            await bench(Path(scratch), appenders, args.appends, args.record_bytes)


if __name__ == "__main__":
    asyncio.run(main())
