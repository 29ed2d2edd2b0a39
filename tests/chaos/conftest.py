"""Fixtures of the chaos suite: the artifacts folder of each test (tests/support/
chaos_artifacts.py), printed so a failed run can be looked into."""

from __future__ import annotations

import pytest

from tests.support.chaos_artifacts import ChaosArtifacts


@pytest.fixture
def chaos_artifacts(request: pytest.FixtureRequest) -> ChaosArtifacts:
    artifacts = ChaosArtifacts.for_test(request.node.name)
    print(f"chaos artifacts: {artifacts.folder}")
    return artifacts
