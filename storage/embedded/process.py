"""Starting, probing and stopping the background server processes of the embedded stack."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from storage.embedded.errors import PartFailedError, PortInUseError, StackError

LOOPBACK = "127.0.0.1"


def ensure_port_free(part: str, port: int, host: str = LOOPBACK) -> None:
    """Raise `PortInUseError` naming `part` and `port` when something already listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUseError(part, host, port) from None


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on `host:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


# Private ports come from below Linux's default ephemeral range (32768-60999): a port the kernel
# hands out for outgoing connections can be taken by one between our probe and the server's bind,
# which made a session's stack fail to start now and then once test runs went parallel.
PRIVATE_PORTS = range(10_000, 32_768)
PRIVATE_PORT_TRIES = 200


def free_port(host: str = LOOPBACK) -> int:
    """A random port in PRIVATE_PORTS that nothing listens on now (for private servers: tests,
    a worker's own endpoints). Random, so that parallel test processes rarely pick the same."""
    for _ in range(PRIVATE_PORT_TRIES):
        port = random.choice(PRIVATE_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise StackError(
        f"no free port on {host} in {PRIVATE_PORT_TRIES} random tries in "
        f"{PRIVATE_PORTS.start}-{PRIVATE_PORTS.stop - 1}"
    )


def log_tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of the log at `path`, or a note that none was written."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


def spawn(
    part: str, argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session so it outlives the command that started it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        try:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        except OSError as exc:
            raise PartFailedError(part, f"cannot execute {argv[0]}: {exc}", "") from exc


def wait_until(
    part: str,
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes] | None,
    log_path: Path,
    timeout_s: float = 30.0,
) -> None:
    """Poll `ready` until it holds; report the log tail when the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            raise PartFailedError(
                part, f"exited with code {process.returncode}", log_tail(log_path)
            )
        time.sleep(0.1)
    raise PartFailedError(part, f"not ready after {timeout_s:.0f}s", log_tail(log_path))


def pid_alive(pid: int) -> bool:
    """True while a process with this pid runs (also one owned by another user). A zombie does
    not: a killed process whose parent already exited waits as one until init reaps it, and
    `AppProcesses.ensure` must restart it meanwhile, not take it for running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def stop_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM the process group of `pid`, then SIGKILL what is left after `timeout_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if _signal_and_reap(pid, sig, timeout_s):
            return


def kill_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGKILL the process group of `pid` and reap it: a crash, with no shutdown code run."""
    _signal_and_reap(pid, signal.SIGKILL, timeout_s)


def _signal_and_reap(pid: int, sig: signal.Signals, timeout_s: float) -> bool:
    """Send `sig` to the process group of `pid`; True once it is gone (reaped) within
    `timeout_s`."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return True
    except PermissionError:
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            _reap(pid)
            return True
        time.sleep(0.05)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
