"""Prune a WAL directory in a process of its own, so a test can SIGKILL it at a crash point.

    cd <repo root> && GEOLEDGER_CRASH_AT=<point> python -m tests.chaos.wal_prune_process \
        DIRECTORY SHIPPED_THROUGH APPLIED_THROUGH

Prints `PRUNED <segments> <first_retained_seq>` when it finishes (it does not when killed).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from storage.wal import PruneLimits, prune_shipped

MANIFEST_SHA256 = "ab" * 32


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("shipped_through", type=int)
    parser.add_argument("applied_through", type=int)
    args = parser.parse_args()
    limits = PruneLimits(
        shipped_through_seq=args.shipped_through,
        manifest_sha256=MANIFEST_SHA256,
        applied_through_seq=args.applied_through,
        retain_s=0.0,
        now_s=time.time(),
    )
    result = prune_shipped(args.directory, limits)
    print(f"PRUNED {result.segments} {result.first_retained_seq}", flush=True)


if __name__ == "__main__":
    main()
