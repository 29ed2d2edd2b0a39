"""A worker (`geoledger worker run --queue QUEUE`) under cProfile, writing its stats to STATS when
SIGINT or SIGTERM stops it.

`python -m cProfile geoledger worker run` writes nothing: once a command has used Temporal, the
CLI leaves with os._exit (cli/main.py), before cProfile's own exit path. This runs the worker
itself, writes the stats, then leaves the same way.

Run: .venv/bin/python tests/perf/profiled_worker.py STATS QUEUE (settings as `geoledger` loads
them: GEOLEDGER_CONFIG and the GEOLEDGER_* environment)
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import os
import sys
from pathlib import Path

# Run as a script: the repository root must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli.common import settings_from
from workers.run import run_worker


def main() -> None:
    stats, queue = sys.argv[1:3]
    settings = settings_from(None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    profiler = cProfile.Profile()
    try:
        profiler.runcall(asyncio.run, run_worker(settings, queue, 0))
    finally:
        profiler.dump_stats(stats)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        # As the CLI does after Temporal (temporalio/sdk-python#300): no interpreter finalization.
        os._exit(0)


if __name__ == "__main__":
    main()
