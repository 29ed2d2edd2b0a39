"""The architecture's import direction (ARCHITECTURE §2): cli → api, workers → workflows,
activities → storage → ledger; workflows reach activities only for names and models; nothing
imports cli; ledger is pure (stdlib, cryptography, nacl, rfc8785, pydantic, msgspec)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "storage", "workflows", "activities", "workers", "api", "cli")

# For each package, the first-party packages it must never import.
FORBIDDEN = {
    "ledger": {"storage", "workflows", "activities", "workers", "api", "cli"},
    "storage": {"workflows", "activities", "workers", "api", "cli"},
    "activities": {"workflows", "workers", "api", "cli"},
    "workflows": {"storage", "workers", "api", "cli"},
    "api": {"workflows", "activities", "workers", "cli"},
    "workers": {"api", "cli"},
    "cli": set(),
}
LEDGER_THIRD_PARTY = {
    "cryptography",
    "nacl",
    "rfc8785",
    "pydantic",
    "pydantic_settings",
    "pydantic_core",
    "msgspec",
}
# Workflow modules may import these activity modules only: names and typed models, no I/O.
WORKFLOW_ACTIVITY_MODULES = {
    "activities.names",
    "activities.crr_models",
    "activities.smoke_models",
    "activities.geo_models",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_against_the_direction(package: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in imports_of(path)
        if name.split(".")[0] in FORBIDDEN[package]
    ]
    assert offences == []


def test_ledger_is_pure() -> None:
    allowed = set(sys.stdlib_module_names) | LEDGER_THIRD_PARTY | {"ledger"}
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("ledger")
        for name in imports_of(path)
        if name.split(".")[0] not in allowed
    ]
    assert offences == []


def test_workflows_take_only_names_and_models_from_activities() -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules("workflows")
        for name in imports_of(path)
        if name.startswith("activities") and name not in WORKFLOW_ACTIVITY_MODULES
    ]
    assert offences == []
