"""The binaries of Debian's `prometheus` package (`prometheus`, `promtool`), which .ci/run
installs: missing, a test fails under CI (CI=true) and skips on a workstation."""

from __future__ import annotations

import os
import shutil

import pytest


def prometheus_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not on PATH; CI must install Debian's `prometheus` package")
        pytest.skip(f"{name} is not installed (Debian package `prometheus`)")
    return path
