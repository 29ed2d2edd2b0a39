"""Crash points for kill tests: `crash_point("name")` kills the process with SIGKILL when the
environment variable GEOLEDGER_CRASH_AT names it, so a test can stop a real process at an exact
instruction (between a WAL fsync and the dedup apply, say) and prove that nothing acknowledged is
lost. Unset - always, outside those tests - it costs one dictionary lookup."""

from __future__ import annotations

import os
import signal

CRASH_AT_ENV = "GEOLEDGER_CRASH_AT"


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when GEOLEDGER_CRASH_AT names `name`; otherwise do nothing."""
    if os.environ.get(CRASH_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
