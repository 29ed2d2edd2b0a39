"""RFC 8785 canonicalization against the shared JCS vectors (input/*.json -> output/*.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoledger_sdk import canonicalize

from .conftest import shared_dir

JCS_DIR = shared_dir() / "vectors" / "jcs"
JCS_INPUTS = sorted((JCS_DIR / "input").glob("*.json"))


def test_shared_vectors_are_present() -> None:
    assert len(JCS_INPUTS) >= 6, (
        f"expected the RFC 8785 vectors under {JCS_DIR}; set GEOLEDGER_SHARED_DIR"
    )


@pytest.mark.parametrize("source", JCS_INPUTS, ids=lambda path: path.name)
def test_canonical_form_matches_output_file(source: Path) -> None:
    expected = (JCS_DIR / "output" / source.name).read_bytes()
    # The output files hold the canonical bytes exactly, with no trailing newline to strip.
    assert not expected.endswith(b"\n")
    assert canonicalize(json.loads(source.read_bytes())) == expected
