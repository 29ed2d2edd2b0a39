"""`make perf`: k6 load on both regions' ingest nodes, once per ring size, with an HTML report.

Run: .venv/bin/python tests/perf/k6/run.py [--rings 2,4] [--events 60000] [--batch 100]
        [--repeat-share 0.1] [--baseline-batches 30] [--vus 8] [--ramp-seconds 20]
        [--p99-ms 1000] [--out DIR]
Each option's default can also be given in the environment (GEOLEDGER_K6_RINGS, ..._EVENTS,
..._BATCH, ..._REPEAT_SHARE, ..._BASELINE_BATCHES, ..._VUS, ..._RAMP_S, ..._P99_MS, ..._OUT), so
`GEOLEDGER_K6_RAMP_S=120 GEOLEDGER_K6_EVENTS=400000 make perf` runs longer.

PostgreSQL of the embedded stack starts on private ports (tests/perf/_stack.BenchStack: an
ingest node needs nothing else). `--events` events of tenant "bench" are signed with the
project's signing code and written as batches with a share of repeats (presign.py), once: the
file is kept under .geoledger/perf/k6/events/ for the next run with the same options. Then, per
ring size: regions us and eu get fresh databases (control + that many shards, routed on a ring
of all of them), the tenant's key, and one `geoledger ingest serve` node each, which takes
WARMUP_BATCHES batches first; k6 runs ingest.js twice against both nodes at once: the baseline
(one VU per region, `--baseline-batches` batches) and the ramp (VUs per region up to `--vus` and
back over `--ramp-seconds`).

Everything lands in one folder per run (default .geoledger/perf/k6/<UTC time>/, printed): per
ring `ring-<n>/baseline.{json,html}` and `ring-<n>/ramp.{json,html}` (handleSummary's figures,
k6's web dashboard export), the nodes' logs, and `summary.json` with every figure and the ratios:
the ramp's p50/p95/p99 and events/s against the same ring's baseline, and each ring's ramp
events/s against the first ring's. A latency threshold missed prints "target missed"; the exit
status is non-zero only for a real failure (an event answered neither accepted nor duplicate, a
fresh event not accepted exactly once, a node that did not start, k6 failing to run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script (`make perf`): the repository root must be importable for `tests.perf`.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import httpx

from storage.embedded.process import free_port
from storage.keys import KeyRegistry
from tests.perf._stack import (
    START_TIMEOUT_S,
    BenchFailure,
    BenchStack,
    Subprocess,
    http_ok,
    run_async,
    start_geoledger,
    wait_for,
)
from tests.perf.k6.presign import TENANT, Batch, signed_batches, tenant_public_key
from tests.perf.k6.report import print_report, ring_figures

REPO_ROOT = Path(__file__).resolve().parents[3]
K6 = str(Path(sys.executable).parent / "k6")
SCRIPT = Path(__file__).with_name("ingest.js")
REGIONS = ("us", "eu")
# k6's exit status when a threshold was crossed: a missed target here, not a failure.
K6_THRESHOLDS_CROSSED = 99
# Batches each node takes before the baseline: its first requests start its verify workers and
# its database pools, seconds the baseline's p99 should not hold.
WARMUP_BATCHES = 5
# Signed events are kept between runs (the same options give the same file).
EVENTS_CACHE = REPO_ROOT / ".geoledger" / "perf" / "k6" / "events"


def env_default(name: str, default: str) -> str:
    return os.environ.get(f"GEOLEDGER_K6_{name}", default)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rings", default=env_default("RINGS", "2,4"), help="ring sizes, a,b")
    parser.add_argument("--events", type=int, default=int(env_default("EVENTS", "60000")))
    parser.add_argument("--batch", type=int, default=int(env_default("BATCH", "100")))
    parser.add_argument(
        "--repeat-share", type=float, default=float(env_default("REPEAT_SHARE", "0.1"))
    )
    parser.add_argument(
        "--baseline-batches", type=int, default=int(env_default("BASELINE_BATCHES", "30"))
    )
    parser.add_argument("--vus", type=int, default=int(env_default("VUS", "8")))
    parser.add_argument("--ramp-seconds", type=float, default=float(env_default("RAMP_S", "20")))
    parser.add_argument("--p99-ms", type=float, default=float(env_default("P99_MS", "1000")))
    default_out = REPO_ROOT / ".geoledger" / "perf" / "k6"
    default_out /= datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    parser.add_argument("--out", type=Path, default=Path(env_default("OUT", str(default_out))))
    args = parser.parse_args()
    args.rings = [int(ring) for ring in str(args.rings).split(",")]
    # k6 opens files relative to the script and writes them relative to its working directory.
    args.out = args.out.resolve()
    before_ramp = args.batch * (WARMUP_BATCHES + args.baseline_batches)
    if args.events <= before_ramp:
        raise BenchFailure(
            f"--events: expected more than the warm-up's and baseline's {before_ramp}, got"
            f" {args.events}"
        )
    return args


@dataclass(frozen=True)
class Node:
    """One region's ingest node and the address k6 posts to."""

    process: Subprocess
    url: str


async def start_nodes(stack: BenchStack, ring: int, logs: Path) -> dict[str, Node]:
    """Fresh regions us and eu on `ring` shards each, the tenant's key, one node per region."""
    regions = {
        name: await stack.fresh_region(name, f"k6_r{ring}_{name}", shards=ring) for name in REGIONS
    }
    settings = stack.with_regions(regions)
    async with await KeyRegistry.open(settings) as registry:
        await registry.create(TENANT, tenant_public_key())
    nodes: dict[str, Node] = {}
    try:
        for name, config in regions.items():
            port = free_port()
            args = ["ingest", "serve", "--region", name, "--node", config.nodes[0].name]
            args += ["--port", str(port)]
            process = start_geoledger(f"ingest-{name}", args, stack.env_for(settings), logs)
            nodes[name] = Node(process, f"http://127.0.0.1:{port}")
        for node in nodes.values():
            await asyncio.to_thread(wait_for, node.process, http_ok(f"{node.url}/healthz"))
    except BaseException:
        for node in nodes.values():
            node.process.stop()
        raise
    return nodes


def warm_up(nodes: dict[str, Node], batches: list[Batch]) -> None:
    """Post batches [0, WARMUP_BATCHES) to every node; each event must be accepted."""
    for region, node in nodes.items():
        for batch in batches[:WARMUP_BATCHES]:
            answer = httpx.post(
                f"{node.url}/v1/events",
                content=batch.body,
                headers={"Content-Type": "application/json"},
                timeout=START_TIMEOUT_S,
            )
            statuses = [result["status"] for result in answer.json().get("results", [])]
            if answer.status_code != 200 or statuses.count("accepted") != batch.fresh:
                raise BenchFailure(f"warm-up, {region}: HTTP {answer.status_code}, {statuses}")


def run_k6(mode: str, folder: Path, k6_env: dict[str, str]) -> dict[str, Any]:
    """ingest.js in `mode` (baseline or ramp); its summary (folder/<mode>.json). Its web dashboard
    is exported to folder/<mode>.html. Raises BenchFailure when an event was answered neither
    accepted nor duplicate, or when a fresh event was not accepted exactly once."""
    env = {
        **os.environ,
        **k6_env,
        "GEOLEDGER_K6_MODE": mode,
        "GEOLEDGER_K6_SUMMARY_DIR": str(folder),
        "K6_WEB_DASHBOARD": "true",
        # No dashboard server (port -1): the report is only written, at the end.
        "K6_WEB_DASHBOARD_PORT": "-1",
        "K6_WEB_DASHBOARD_PERIOD": "1s",
        "K6_WEB_DASHBOARD_EXPORT": str(folder / f"{mode}.html"),
    }
    command = [K6, "run", "--quiet", "--no-usage-report", str(SCRIPT)]
    status = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, check=False).returncode
    if status not in (0, K6_THRESHOLDS_CROSSED):
        raise BenchFailure(f"k6 {mode} exited {status}")
    summary_path = folder / f"{mode}.json"
    if not summary_path.exists():
        raise BenchFailure(f"k6 {mode} wrote no summary at {summary_path}")
    summary: dict[str, Any] = json.loads(summary_path.read_text())
    for region, figures in summary["regions"].items():
        if figures["events_failed"]:
            raise BenchFailure(
                f"{mode}, {region}: {figures['events_failed']:.0f} events answered neither"
                f" accepted nor duplicate (logs in {folder / 'logs'})"
            )
        # Each fresh event is accepted once, whichever of its two sends comes first; after a
        # wrap the "fresh" ones were sent before.
        if not figures["batches_wrapped"] and figures["events_accepted"] != figures["events_fresh"]:
            raise BenchFailure(
                f"{mode}, {region}: {figures['events_accepted']:.0f} events accepted, but"
                f" {figures['events_fresh']:.0f} fresh ones were sent"
            )
    return summary


async def measure_ring(
    stack: BenchStack, ring: int, args: argparse.Namespace, load: SignedLoad
) -> dict[str, Any]:
    folder = args.out / f"ring-{ring}"
    folder.mkdir(parents=True, exist_ok=True)
    nodes = await start_nodes(stack, ring, folder / "logs")
    try:
        await asyncio.to_thread(warm_up, nodes, load.batches)
        k6_env = {
            "GEOLEDGER_K6_EVENTS": str(load.path.resolve()),
            "GEOLEDGER_K6_TARGETS": json.dumps({name: node.url for name, node in nodes.items()}),
            "GEOLEDGER_K6_LABEL": f"ring-{ring}",
            "GEOLEDGER_K6_BASELINE_BATCHES": str(args.baseline_batches),
            "GEOLEDGER_K6_VUS": str(args.vus),
            "GEOLEDGER_K6_RAMP_S": str(args.ramp_seconds),
            "GEOLEDGER_K6_P99_MS": str(args.p99_ms),
        }
        # Each phase goes on where the one before stopped, so its first batches are fresh too.
        k6_env["GEOLEDGER_K6_OFFSET"] = str(WARMUP_BATCHES)
        baseline = await asyncio.to_thread(run_k6, "baseline", folder, k6_env)
        k6_env["GEOLEDGER_K6_OFFSET"] = str(WARMUP_BATCHES + args.baseline_batches)
        ramp = await asyncio.to_thread(run_k6, "ramp", folder, k6_env)
    finally:
        for node in nodes.values():
            node.process.stop()
    return ring_figures(ring, baseline, ramp)


@dataclass(frozen=True)
class SignedLoad:
    """The pre-signed batches and the file ingest.js loads them from."""

    path: Path
    batches: list[Batch]


def signed_load(args: argparse.Namespace) -> SignedLoad:
    started = time.perf_counter()
    # spawn, not fork: signing workers need no copy of this process's state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(os.cpu_count(), mp_context=context) as signer:
        path, batches = signed_batches(
            EVENTS_CACHE, signer, args.events, args.batch, args.repeat_share
        )
    print(
        f"{args.events:,} signed events in {len(batches)} batches of {args.batch}"
        f" ({args.repeat_share:.0%} repeats) ready in {time.perf_counter() - started:.1f}s: {path}"
    )
    return SignedLoad(path, batches)


async def main() -> None:
    args = arguments()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"k6 run folder: {args.out}")
    load = signed_load(args)
    rings: list[dict[str, Any]] = []
    stack = BenchStack(postgres_only=True)
    await asyncio.to_thread(stack.__enter__)
    try:
        for ring in args.rings:
            rings.append(await measure_ring(stack, ring, args, load))
    finally:
        # Throw-away data: no shutdown checkpoint (tens of seconds on a busy machine).
        await asyncio.to_thread(stack.postgres.stop, "immediate")
        await asyncio.to_thread(stack.__exit__)
    summary = print_report(rings, args.p99_ms)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"k6 reports: {args.out} (summary.json, ring-<n>/baseline.html, ring-<n>/ramp.html)")


if __name__ == "__main__":
    raise SystemExit(run_async(main))
