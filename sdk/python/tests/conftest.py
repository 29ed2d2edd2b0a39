"""Where the shared test data lives: the golden vectors in this repository and the public RFC 8785
vectors in the `shared/` folder the repository is cloned next to."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
GOLDEN_VECTORS = REPO_ROOT / "sdk" / "golden" / "vectors.json"


def shared_dir() -> Path:
    """`$GEOLEDGER_SHARED_DIR`, else `../shared` relative to the repository root."""
    override = os.environ.get("GEOLEDGER_SHARED_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared"


def load_golden() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(GOLDEN_VECTORS.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="session")
def golden() -> dict[str, Any]:
    return load_golden()
