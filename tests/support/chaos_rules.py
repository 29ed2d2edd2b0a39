"""The alert rules of deploy/prometheus/ as a chaos test loads them into a real Prometheus: the
same expressions and thresholds, with every `for:` duration scaled down.

Why scale at all: the rules hold a condition for minutes (`WalReplicationLag` 5m, `GeoRegionDown`
2m) so that one slow upload or a restart pages nobody. Real minutes do not fit a test that should
run in tens of seconds, so a minute of `for:` becomes a second here. Nothing else changes: an
alert that fires in the test fires on the same expression over the same metrics in production.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from cli.durations import parse_duration
from tests.support.processes import REPO_ROOT

RULES = REPO_ROOT / "deploy" / "prometheus" / "geoledger-rules.yml"
# A minute of `for:` becomes a second.
SCALE_DOWN = 60


def scale_for_durations(document: dict[str, Any], factor: int = SCALE_DOWN) -> dict[str, Any]:
    """A copy of a rules document whose `for:` durations are divided by `factor` (written in
    milliseconds, which Prometheus reads); every other field is the same object content."""
    scaled = copy.deepcopy(document)
    for group in scaled["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                seconds = parse_duration(str(rule["for"])).total_seconds()
                rule["for"] = f"{max(1, round(seconds * 1000 / factor))}ms"
    return scaled


def write_scaled_rules(directory: Path, factor: int = SCALE_DOWN) -> Path:
    """deploy/prometheus/geoledger-rules.yml, scaled, written into `directory`."""
    document = yaml.safe_load(RULES.read_text())
    path = directory / "geoledger-rules.scaled.yml"
    path.write_text(yaml.safe_dump(scale_for_durations(document, factor), sort_keys=False))
    return path
