"""The k6 load tests (tests/perf/k6, `make perf`) stay runnable: each k6 script compiles and its
init code yields the scenarios and thresholds run.py relies on (`k6 inspect`, offline, over a
small file of really signed batches), and the Makefile's `perf` target runs run.py. `make perf`
itself is not part of `make test`; this is what makes a broken script fail here fast."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.perf.k6.presign import signed_batches

K6 = Path(sys.executable).parent / "k6"
K6_DIR = REPO_ROOT / "tests" / "perf" / "k6"
TARGETS = {"us": "http://127.0.0.1:9", "eu": "http://127.0.0.1:9"}


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with ProcessPoolExecutor(1) as signer:
        path, _ = signed_batches(tmp_path_factory.mktemp("k6"), signer, 12, 5, 0.2)
    return path


def run_inspect(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`k6 inspect` of `script` with `env` as -e variables."""
    flags = [part for name, value in env.items() for part in ("-e", f"{name}={value}")]
    return subprocess.run(
        [str(K6), "inspect", *flags, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def inspect(script: Path, env: dict[str, str]) -> dict[str, Any]:
    """The options `script`'s init code built with `env`."""
    done = run_inspect(script, env)
    assert done.returncode == 0, done.stdout + done.stderr
    options: dict[str, Any] = json.loads(done.stdout)
    return options


@pytest.mark.parametrize("mode", ["baseline", "ramp"])
def test_ingest_script_builds_a_scenario_and_thresholds_per_region(
    events_file: Path, mode: str
) -> None:
    env = {
        "GEOLEDGER_K6_EVENTS": str(events_file),
        "GEOLEDGER_K6_TARGETS": json.dumps(TARGETS),
        "GEOLEDGER_K6_MODE": mode,
        "GEOLEDGER_K6_VUS": "4",
    }
    options = inspect(K6_DIR / "ingest.js", env)
    assert sorted(options["scenarios"]) == ["eu", "us"]
    executors = {scenario["executor"] for scenario in options["scenarios"].values()}
    assert executors == {"per-vu-iterations" if mode == "baseline" else "ramping-vus"}
    if mode == "ramp":
        peaks = [max(s["target"] for s in sc["stages"]) for sc in options["scenarios"].values()]
        assert peaks == [4, 4]
    for region in TARGETS:
        # run.py reads these submetrics from the summary; k6 keeps them only with a threshold.
        assert f"http_req_duration{{scenario:{region}}}" in options["thresholds"]
        assert f"geoledger_k6_events_failed{{scenario:{region}}}" in options["thresholds"]


def test_ingest_script_refuses_to_start_without_its_batches() -> None:
    done = run_inspect(K6_DIR / "ingest.js", {"GEOLEDGER_K6_TARGETS": json.dumps(TARGETS)})
    assert done.returncode != 0
    assert "GEOLEDGER_K6_EVENTS is not set" in done.stdout + done.stderr


def test_make_perf_runs_the_k6_runner() -> None:
    done = subprocess.run(
        ["make", "-n", "perf"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "tests/perf/k6/run.py" in done.stdout
