"""`geoledger worker run` as the process an operator deploys: it runs workflows from its task
queue, serves our metrics and the Temporal SDK's on one /metrics, logs and traces as [logging]
and [tracing] say, refuses a queue it does not know, and stops cleanly on SIGTERM - against the
session's real Temporal dev server and stores."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from activities.names import SMOKE_OBJECT_ROUND_TRIP
from activities.smoke import ObjectRoundTripInput
from storage.embedded.process import free_port
from tests.conftest import REPO_ROOT, RunningStack
from workers.client import connect
from workers.run import GRACEFUL_SHUTDOWN
from workflows import queues
from workflows.smoke import SmokeInput, SmokeWorkflow

pytestmark = pytest.mark.timeout(180)

GEOLEDGER = Path(sys.executable).parent / "geoledger"
# Interpreter start-up and imports on a loaded 2-core machine take several seconds.
START_TIMEOUT_S = 60.0
# The SDK exports worker metrics only once its pollers run; give it a few scrapes.
SDK_METRICS_TIMEOUT_S = 30.0
READY = "worker polling"  # printed by workers/run.py once the Temporal worker polls
SMOKE_OBJECT_BYTES: int = ObjectRoundTripInput.model_fields["size"].default


def worker_env(running_stack: RunningStack) -> dict[str, str]:
    """The session's configuration file and nothing else of any inherited GEOLEDGER_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOLEDGER_")}
    # Wide enough that rich does not wrap the error messages the assertions read.
    return {**env, "GEOLEDGER_CONFIG": str(running_stack.config_path), "COLUMNS": "500"}


async def read_log(path: Path) -> str:
    return await asyncio.to_thread(path.read_text, errors="replace")


async def wait_for_log(process: asyncio.subprocess.Process, log_path: Path, text: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while text not in (log := await read_log(log_path)):
        if process.returncode is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n{log[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the worker's log within {START_TIMEOUT_S}s")
        await asyncio.sleep(0.1)


async def scrape_until(url: str, sample: re.Pattern[str]) -> str:
    """/metrics once it carries a line matching `sample`."""
    deadline = time.monotonic() + SDK_METRICS_TIMEOUT_S
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            answer = await client.get(url)
            assert answer.status_code == 200, answer.text
            if sample.search(answer.text):
                return answer.text
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {sample.pattern!r} on {url} within {SDK_METRICS_TIMEOUT_S}s:\n"
                    f"{answer.text[-3000:]}"
                )
            await asyncio.sleep(0.5)


async def stop(process: asyncio.subprocess.Process, timeout_s: float) -> int:
    """SIGTERM and the exit status; SIGKILL (and an AssertionError) if it outlives `timeout_s`."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"still running {timeout_s}s after SIGTERM: killed") from None


async def test_ops_worker_runs_smoke_serves_both_metrics_and_stops_on_sigterm(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "worker.log"
    # JSON logs, and spans printed on standard output: both land in the log read below.
    telemetry = {"GEOLEDGER_LOGGING__FORMAT": "json", "GEOLEDGER_TRACING__EXPORTER": "console"}
    with log_path.open("wb") as log:
        worker = await asyncio.create_subprocess_exec(
            str(GEOLEDGER),
            *("worker", "run", "--queue", queues.OPS, "--metrics-port", str(port)),
            cwd=REPO_ROOT,
            env={**worker_env(running_stack), **telemetry},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        await wait_for_log(worker, log_path, READY)

        # The smoke workflow runs on this worker: nothing else polls the ops queue.
        client = await connect(running_stack.settings)
        key = f"smoke/worker-process-{uuid.uuid4().hex[:8]}.bin"
        workflow_id = f"smoke-worker-process-{uuid.uuid4().hex[:8]}"
        result = await client.execute_workflow(
            SmokeWorkflow.run,
            SmokeInput(regions=["eu", "us"], object_key=key),
            id=workflow_id,
            task_queue=queues.OPS,
            execution_timeout=timedelta(minutes=1),
        )
        written = (hashlib.sha256(key.encode()).digest() * (SMOKE_OBJECT_BYTES // 32 + 1))[
            :SMOKE_OBJECT_BYTES
        ]
        assert [(r.region, r.key, r.bytes) for r in result.round_trips] == [
            ("eu", key, SMOKE_OBJECT_BYTES),
            ("us", key, SMOKE_OBJECT_BYTES),
        ]
        assert {r.sha256 for r in result.round_trips} == {hashlib.sha256(written).hexdigest()}
        assert [r.store.split(":")[0] for r in result.round_trips] == ["gs", "s3"]

        # The SDK's own count of the workflow this worker just completed on the ops queue.
        completed = re.compile(
            rf'^temporal_workflow_completed\w*\{{[^}}]*task_queue="{queues.OPS}"', re.MULTILINE
        )
        metrics = await scrape_until(f"http://127.0.0.1:{port}/metrics", completed)
        assert re.search(r"^python_info\{", metrics, re.MULTILINE), "prometheus-client's own"
        assert "# TYPE wal_crr_lag_seconds gauge" in metrics, "geoledger's metrics"

        code = await stop(worker, GRACEFUL_SHUTDOWN.total_seconds())
        log_text = await read_log(log_path)
        assert code == 0, log_text[-3000:]
        assert f"worker for {queues.OPS} stopped" in log_text
        # Each activity's record is a JSON line with its labels; its span was exported before
        # the process left (it exits without interpreter finalization: cli/main.py).
        records = [json.loads(line) for line in log_text.splitlines() if line.startswith('{"ts"')]
        smoke = [r for r in records if r["logger"] == "geoledger.smoke"]
        assert [(r["region"], r["workflow_id"], r["activity"]) for r in smoke] == [
            ("eu", workflow_id, SMOKE_OBJECT_ROUND_TRIP),
            ("us", workflow_id, SMOKE_OBJECT_ROUND_TRIP),
        ]
        assert log_text.count(f'"name": "RunActivity:{SMOKE_OBJECT_ROUND_TRIP}"') == 2
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


async def test_an_unknown_queue_exits_2_naming_the_known_queues(
    running_stack: RunningStack,
) -> None:
    process = await asyncio.create_subprocess_exec(
        str(GEOLEDGER),
        *("worker", "run", "--queue", "geoledger-nope", "--metrics-port", "0"),
        cwd=REPO_ROOT,
        env=worker_env(running_stack),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    said = " ".join(err.decode().split())
    assert process.returncode == 2, (out, err)
    assert "'geoledger-nope'" in said
    for known in (*queues.SHARED_QUEUES, "geoledger-crr-us-n1", "geoledger-crr-eu-n1"):
        assert known in said, said
    assert READY not in out.decode()
