"""No module of the core packages grows past 400 lines: past that a file holds two concepts, and
the second one belongs in a module of its own (split where the concepts part, not by length)."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT

CORE_PACKAGES = ("ledger", "storage", "workflows", "activities")
MAX_LINES = 400


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_no_core_module_is_over_400_lines(package: str) -> None:
    oversized = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert oversized == {}
