"""Fault points for kill and rollback tests.

`crash_point("name")` kills the process with SIGKILL when the environment variable
GEOLEDGER_CRASH_AT names it, so a test can stop a real process at an exact instruction (between a
WAL fsync and the dedup apply, say) and prove that nothing acknowledged is lost.

`fail_point("name")` raises InjectedFault when GEOLEDGER_FAIL_AT (a comma-separated list) names
it: a worker started with it runs a "bad build" whose activities fail, which a canary must roll
back (runbooks/canary.md rehearses it with the smoke workflow's activity).

Unset - always, outside those tests - each costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_AT_ENV = "GEOLEDGER_CRASH_AT"
FAIL_AT_ENV = "GEOLEDGER_FAIL_AT"


class InjectedFault(RuntimeError):
    """A failure GEOLEDGER_FAIL_AT asked for."""


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when GEOLEDGER_CRASH_AT names `name`; otherwise do nothing."""
    if os.environ.get(CRASH_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def fail_point(name: str) -> None:
    """Raise InjectedFault when GEOLEDGER_FAIL_AT lists `name`; otherwise do nothing."""
    listed = os.environ.get(FAIL_AT_ENV)
    if listed and name in listed.split(","):
        raise InjectedFault(f"fault injected at {name} ({FAIL_AT_ENV})")
