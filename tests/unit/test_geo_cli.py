"""`geoledger geo check | schedule` without a worker: duration parsing, bad input (exit 2) and an
unreachable Temporal (exit 3). The commands against a real worker are in
tests/integration/test_geo_divergence.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from cli.durations import parse_duration
from cli.geo import geo_app
from storage.embedded.process import free_port
from tests.conftest import REPO_ROOT

DURATIONS = {
    "30s": timedelta(seconds=30),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "1h30m": timedelta(hours=1, minutes=30),
    "2m5s": timedelta(minutes=2, seconds=5),
    " 90s ": timedelta(seconds=90),
}
BAD_DURATIONS = ["", "5", "m", "5x", "-5m", "1.5h", "5m1h", "0s", "0m0s", "5 m", "5M"]


@pytest.mark.parametrize(("text", "expected"), DURATIONS.items())
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", BAD_DURATIONS)
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=f"got {text!r}"):
        parse_duration(text)


def test_schedule_with_a_bad_interval_exits_2_and_says_why() -> None:
    result = CliRunner().invoke(geo_app, ["schedule", "--every", "5x"])
    assert result.exit_code == 2
    assert "--every: expected a duration like 30s, 5m, 1h or 1h30m, got '5x'" in result.output


@pytest.mark.parametrize("command", [["check"], ["check", "--json"], ["schedule", "--every", "5m"]])
def test_unreachable_temporal_exits_3(command: list[str]) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = CliRunner().invoke(
        geo_app,
        [*command, "--config", str(REPO_ROOT / "geoledger.toml")],
        env={"GEOLEDGER_TEMPORAL__ADDRESS": address},
    )
    assert result.exit_code == 3, result.output
    assert f"Temporal at {address} is unreachable" in result.output
