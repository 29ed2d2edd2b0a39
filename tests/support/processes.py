"""Real `geoledger` processes for kill tests: started with an isolated configuration (and, when a
test asks, armed with a crash point), logged to a file of their own, stopped with SIGTERM or
killed with SIGKILL, and always reaped by the group that started them."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ledger.config import Settings
from storage.faults import CRASH_AT_ENV
from tests.support.isolated import settings_env

GEOLEDGER = Path(sys.executable).parent / "geoledger"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Interpreter start-up plus imports on a loaded 2-core machine; a process that needs longer is
# broken, not slow.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
# Exit statuses of a graceful stop: uvicorn re-raises the SIGTERM it caught once its shutdown
# (lifespan included) is done, so a cleanly stopped ingest node reports -SIGTERM.
GRACEFUL_EXITS = (0, -signal.SIGTERM)
# A worker prints this once its Temporal worker polls (workers/run.py).
WORKER_READY = "worker polling"


def geoledger_env(
    settings: Settings, config_path: Path, crash_at: str | None = None
) -> dict[str, str]:
    """This process's environment (it carries the dummy AWS credentials the stack set) with every
    inherited GEOLEDGER_* variable replaced: the subprocess loads exactly `settings`, and is armed
    with a crash point only when `crash_at` names one."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GEOLEDGER_")}
    env.update(settings_env(settings, config_path))
    if crash_at is not None:
        env[CRASH_AT_ENV] = crash_at
    return env


@dataclass
class GeoledgerProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """None while running; the exit status, or -N when signal N ended it."""
        return self.popen.poll()

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:]

    def kill(self) -> int:
        """SIGKILL (a crash: nothing in the process runs any more) and reap."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM (a graceful stop); SIGKILL when it has not exited within `timeout_s`. The exit
        status is one of GRACEFUL_EXITS when the process shut down by itself."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait()

    async def wait_exit(self, timeout_s: float) -> int:
        """The exit status once the process ended by itself (a crash point fired, say)."""
        deadline = time.monotonic() + timeout_s
        while (code := self.popen.poll()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} (pid {self.pid}): expected it to exit within {timeout_s}s, "
                    f"still running; log:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)
        return code

    async def wait_for_log(self, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log_path.read_text(errors="replace"):
            self.check_alive(f"printing {text!r}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: expected {text!r} in its log within {timeout_s}s; "
                    f"log:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    def check_alive(self, doing: str) -> None:
        """Raise, with the log, when the process already exited while a test waits on it."""
        code = self.popen.poll()
        if code is not None:
            raise AssertionError(
                f"{self.name}: exited with {code} before {doing}; log:\n{self.log_tail()}"
            )


@dataclass
class IngestProcess:
    process: GeoledgerProcess
    base_url: str


@dataclass
class ProcessGroup:
    """Every process one test starts. `close()` - call it in `finally` - stops those still
    running, so no test leaves a process behind whatever it failed on."""

    log_dir: Path
    processes: list[GeoledgerProcess] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> GeoledgerProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # One log per start, so a restart does not hide what the killed process said.
        log_path = self.log_dir / f"{next(self._counter):03d}-{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [str(GEOLEDGER), *args],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = GeoledgerProcess(name, popen, log_path)
        self.processes.append(process)
        return process

    def close(self) -> None:
        running = [p for p in self.processes if p.popen.poll() is None]
        for process in running:
            process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in running:
            try:
                process.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


async def start_ingest_node(
    group: ProcessGroup,
    settings: Settings,
    config_path: Path,
    region: str,
    crash_at: str | None = None,
    verify: ssl.SSLContext | None = None,
) -> IngestProcess:
    """`geoledger ingest serve` for the region's first node on its configured port; returns once
    /healthz answers 200, i.e. once WAL recovery and the dedup catch-up are done. A node with
    [tls] is asked over HTTPS, verified with `verify`."""
    node = settings.region(region).nodes[0]
    process = group.start(
        f"ingest-{region}-{node.name}",
        ["ingest", "serve", "--region", region, "--node", node.name, "--port", str(node.port)],
        geoledger_env(settings, config_path, crash_at),
    )
    scheme = "https" if settings.tls.enabled else "http"
    base_url = f"{scheme}://{node.host}:{node.port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base_url, timeout=2, verify=verify or True) as client:
        while True:
            process.check_alive("answering /healthz")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return IngestProcess(process, base_url)
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{process.name}: /healthz did not answer 200 within {START_TIMEOUT_S}s; "
                    f"log:\n{process.log_tail()}"
                )
            await asyncio.sleep(0.05)


async def start_worker(
    group: ProcessGroup,
    settings: Settings,
    config_path: Path,
    queue: str,
    crash_at: str | None = None,
    metrics_port: int = 0,
) -> GeoledgerProcess:
    """`geoledger worker run --queue QUEUE`; returns once its Temporal worker polls. Its /metrics
    is on `metrics_port` (0: a free one nobody is told about)."""
    process = group.start(
        f"worker-{queue}",
        ["worker", "run", "--queue", queue, "--metrics-port", str(metrics_port)],
        geoledger_env(settings, config_path, crash_at),
    )
    await process.wait_for_log(WORKER_READY)
    return process


@dataclass(frozen=True)
class CommandOutcome:
    """How one `geoledger` command ended."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, f"exit {self.code}:\n{self.stderr}"
        return json.loads(self.stdout)

    @property
    def said(self) -> str:
        """stderr with rich's line wrapping undone, for matching messages."""
        return " ".join(self.stderr.split())


async def run_geoledger(env: dict[str, str], *args: str, timeout_s: float = 90.0) -> CommandOutcome:
    """Run one `geoledger` command to completion without blocking the event loop (in-process
    workers keep answering the command's queries and running its workflows meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        str(GEOLEDGER),
        *args,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(
            f"geoledger {' '.join(args)}: still running after {timeout_s}s"
        ) from None
    assert process.returncode is not None
    return CommandOutcome(process.returncode, out.decode(), err.decode())
