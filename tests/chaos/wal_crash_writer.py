"""A WAL writer that runs until it is SIGKILLed, printing what the WAL acknowledged.

    cd <repo root> && python -m tests.chaos.wal_crash_writer DIRECTORY RUN SEED [--tasks N]
        [--max-segment-bytes B] [--max-segment-age-s S]

Several asyncio tasks append batches of records for ever. Every record describes itself (see
`chaos_records.make_record`), so the crash test can check any record it reads back without a log.
After open it prints `READY <last_seq>`; after each append returns (written and fsync'd) it prints
`ACK <first_seq> <run> <task> <first_counter> <count>` and flushes, so a line on stdout is a
promise the WAL made before the kill.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

from storage.wal import WalWriter
from tests.chaos.chaos_records import make_record

STREAM = "chaos/writer"


async def _append_forever(writer: WalWriter, run: int, task: int, rng: random.Random) -> None:
    counter = 0
    while True:
        count = rng.randint(1, 4)
        records = [make_record(run, task, counter + index) for index in range(count)]
        seqs = await writer.append(records)
        sys.stdout.write(f"ACK {seqs[0]} {run} {task} {counter} {count}\n")
        sys.stdout.flush()
        counter += count
        if rng.random() < 0.2:
            # Stagger the tasks so groups of different sizes form.
            await asyncio.sleep(rng.random() * 0.002)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("run", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--max-segment-bytes", type=int, default=4096)
    parser.add_argument("--max-segment-age-s", type=float, default=0.05)
    args = parser.parse_args()
    writer = await WalWriter.open(
        args.directory,
        STREAM,
        max_segment_bytes=args.max_segment_bytes,
        max_segment_age_s=args.max_segment_age_s,
    )
    sys.stdout.write(f"READY {writer.last_seq}\n")
    sys.stdout.flush()
    rng = random.Random(args.seed)
    tasks = [
        _append_forever(writer, args.run, task, random.Random(rng.random()))
        for task in range(args.tasks)
    ]
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main())
