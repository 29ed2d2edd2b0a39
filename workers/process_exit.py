"""Leaving a process that used the Temporal SDK without interpreter finalization: the SDK's native
threads can otherwise take the GIL while the interpreter is torn down and abort the process
(SIGABRT, "PyGILState_Release ... finalizing") after its work succeeded -
temporalio/sdk-python#300."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

from storage.telemetry.tracing import shutdown_tracing


def exit_now(code: object) -> NoReturn:
    """Exit with SystemExit's meaning of `code`, after flushing what finalization would flush."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    shutdown_tracing()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
