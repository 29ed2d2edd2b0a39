"""The architecture's import direction (ARCHITECTURE §2): cli → api, workers → workflows,
activities → storage → ledger; workflows reach activities only for names and models; nothing
imports cli; ledger is pure (stdlib, cryptography, nacl, rfc8785, pydantic, msgspec, and opendp,
whose measurements are computation only: no I/O).

Imports are followed transitively: what a module reaches through the modules it imports (and the
package `__init__` files they run) counts as its own, so a workflow cannot reach `storage/`
through a models module either.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.import_graph import ImportGraph

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
    # ledger/dp_measure.py: DP measurements and their privacy maps, no I/O.
    "opendp",
}
# Workflow modules may import these activity modules only: names and typed models, no I/O.
WORKFLOW_ACTIVITY_MODULES = {
    "activities.names",
    "activities.crr_models",
    "activities.smoke_models",
    "activities.geo_models",
    "activities.tiering_models",
    "activities.audit_models",
    "activities.migrate_models",
    "activities.canary_models",
}


GRAPH = ImportGraph(ROOT, frozenset(PACKAGES))


def offences(package: str, allowed: Callable[[str], bool]) -> list[str]:
    """Each module `package` reaches that `allowed` refuses, with the chain that reaches it."""
    return [
        " -> ".join(chain)
        for module in GRAPH.modules(package)
        for reached, chain in GRAPH.reachable(module).items()
        if not allowed(reached)
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_against_the_direction(package: str) -> None:
    assert offences(package, lambda name: name.split(".")[0] not in FORBIDDEN[package]) == []


def test_ledger_is_pure() -> None:
    allowed = set(sys.stdlib_module_names) | LEDGER_THIRD_PARTY | {"ledger"}
    assert offences("ledger", lambda name: name.split(".")[0] in allowed) == []


def test_workflows_take_only_names_and_models_from_activities() -> None:
    allowed = WORKFLOW_ACTIVITY_MODULES | {"activities"}  # the package's own (empty) __init__
    assert (
        offences("workflows", lambda name: not name.startswith("activities") or name in allowed)
        == []
    )


# --- the walker itself, on a tree of its own -------------------------------------------------

SYNTHETIC_TREE = {
    "flows/__init__.py": "",
    "flows/check.py": "from models import geo\nimport json\n",
    "flows/other.py": "from models.plain import Thing\n",
    "models/__init__.py": "",
    "models/geo.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import cut\n",
    "models/cut.py": "from store.disk import read\n",
    "models/plain.py": "X = 1\n",
    "store/__init__.py": "",
    "store/disk.py": "import os\n",
    "quiet/__init__.py": "import store\n",
    "quiet/names.py": "",
}


@pytest.fixture
def synthetic(tmp_path: Path) -> ImportGraph:
    for name, text in SYNTHETIC_TREE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return ImportGraph(tmp_path, frozenset({"flows", "models", "store", "quiet"}))


def test_walker_follows_imports_through_modules(synthetic: ImportGraph) -> None:
    reached = synthetic.reachable("flows.check")
    # A submodule named by `from package import module`, a relative import under TYPE_CHECKING,
    # then an absolute one: the chain says how storage was reached.
    assert reached["store.disk"] == ["flows.check", "models.geo", "models.cut", "store.disk"]
    assert "json" in reached and "os" in reached  # third-party and stdlib: named, not walked
    assert "store" not in synthetic.reachable("flows.other")


def test_walker_follows_package_init_files(synthetic: ImportGraph) -> None:
    # Importing quiet.names runs quiet/__init__.py, which imports the store.
    assert synthetic.reachable("quiet.names")["store"] == ["quiet.names", "quiet", "store"]
