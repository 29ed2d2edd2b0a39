"""Every committed corpus file (seeds and found cases) through its differential check."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.differential import CHECKS

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(path for path in CORPUS.glob("*/*") if path.is_file())


def test_every_target_has_a_corpus() -> None:
    assert {path.parent.name for path in FILES} == set(CHECKS)


@pytest.mark.parametrize("path", FILES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_corpus_file(path: Path) -> None:
    CHECKS[path.parent.name](path.read_bytes())
