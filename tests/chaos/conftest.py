"""Fixtures of the chaos suite: the artifacts folder of each test (tests/support/
chaos_artifacts.py), printed so a failed run can be looked into, and a toxiproxy server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.chaos_artifacts import ChaosArtifacts
from tests.support.toxiproxy import Toxiproxy, start_toxiproxy


@pytest.fixture
def chaos_artifacts(request: pytest.FixtureRequest) -> ChaosArtifacts:
    artifacts = ChaosArtifacts.for_test(request.node.name)
    print(f"chaos artifacts: {artifacts.folder}")
    return artifacts


@pytest.fixture
async def toxiproxy(chaos_artifacts: ChaosArtifacts) -> AsyncIterator[Toxiproxy]:
    """A toxiproxy server for the test, its log among the artifacts."""
    server = await start_toxiproxy(chaos_artifacts.logs / "toxiproxy.log")
    try:
        yield server
    finally:
        server.stop()


# Alerts on a rate or ratio over minutes clear minutes after the fault: `make test` checks that
# they fire, `make soak` (the slow variant) also waits for them to clear.
wait_for_clear = pytest.mark.parametrize(
    "wait_for_clear", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["fires", "clears"]
)
