"""Process liveness as the embedded stack's app records see it: a killed process whose parent
has not reaped it yet (a zombie) is not running, so `AppProcesses.ensure` restarts it."""

from __future__ import annotations

import subprocess
import sys
import time

from storage.embedded.process import pid_alive


def test_a_running_process_is_alive_and_a_zombie_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(child.pid)
        child.kill()
        # Not waited for: the child stays a zombie of this process until it is reaped.
        deadline = time.monotonic() + 10
        while pid_alive(child.pid):
            assert time.monotonic() < deadline, "a killed, unreaped child still counts as alive"
            time.sleep(0.01)
    finally:
        child.kill()
        child.wait()
    assert not pid_alive(child.pid)
