"""geoledger's own long-running processes on the embedded stack (ingest nodes, workers), started
by `geoledger demo` and recorded beside the servers so `geoledger dev down` stops them too."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.embedded.process import kill_pid, pid_alive, spawn, stop_pid

APPS_FILE = "apps.json"


def geoledger_command() -> str:
    """The `geoledger` executable of this installation."""
    beside = Path(sys.executable).parent / "geoledger"
    return str(beside) if beside.exists() else (shutil.which("geoledger") or "geoledger")


@dataclass(frozen=True)
class AppProcess:
    """One started geoledger process as recorded: its name, pid, command line and log file."""

    name: str
    pid: int
    argv: list[str]
    log: str

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return pid_alive(self.pid)


class AppProcesses:
    """The geoledger processes started on the embedded stack, recorded in a file of `state_dir`."""

    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir
        self._file = state_dir / APPS_FILE

    def all(self) -> dict[str, AppProcess]:
        """Every recorded process by name, alive or not; empty when none is recorded."""
        try:
            data: dict[str, Any] = json.loads(self._file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {name: AppProcess(name, **fields) for name, fields in data.items()}

    def ensure(self, name: str, args: list[str], env: dict[str, str] | None = None) -> AppProcess:
        """Start `geoledger <args>` as `name` unless a process of that name is alive."""
        known = self.all()
        current = known.get(name)
        if current is not None and current.alive:
            return current
        argv = [geoledger_command(), *args]
        log = self._dir / "apps" / f"{name}.log"
        process = spawn(name, argv, log, env)
        known[name] = AppProcess(name, process.pid, argv, str(log))
        self._write(known)
        return known[name]

    def stop(self, name: str) -> bool:
        """Stop the process named `name` and forget it; False when it was not running."""
        known = self.all()
        current = known.pop(name, None)
        self._write(known)
        if current is None or not current.alive:
            return False
        stop_pid(current.pid)
        return True

    def kill(self, name: str) -> bool:
        """SIGKILL the process group of `name` at once (a crash: nothing in it runs any more),
        keeping its record so `ensure` restarts it with the same command; False when it was not
        running."""
        current = self.all().get(name)
        if current is None or not current.alive:
            return False
        kill_pid(current.pid)
        return True

    def stop_all(self) -> list[str]:
        """Stop every recorded process; the names of those that were running."""
        return [name for name in list(self.all()) if self.stop(name)]

    def _write(self, known: dict[str, AppProcess]) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        data = {
            name: {"pid": app.pid, "argv": app.argv, "log": app.log} for name, app in known.items()
        }
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self._file)
