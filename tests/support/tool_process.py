"""A third-party server a test runs beside geoledger's processes (Prometheus, toxiproxy): spawned
with its output in a log file, ready once an HTTP path answers, stopped and reaped."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass
class ToolProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        """SIGTERM, SIGKILL when it has not exited within STOP_TIMEOUT_S; reaped either way."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    async def wait_ready(self, url: str) -> None:
        """Until `url` answers 2xx; stopped and raising when it exits or does not within
        START_TIMEOUT_S."""
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.popen.poll() is not None:
                    raise AssertionError(
                        f"{self.name} exited with {self.popen.returncode}; see {self.log_path}"
                    )
                try:
                    if (await client.get(url)).is_success:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"{self.name}: {url} not ready in {START_TIMEOUT_S}s")
                await asyncio.sleep(0.1)


def spawn(name: str, args: list[str], log_path: Path) -> ToolProcess:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    return ToolProcess(name, popen, log_path)
