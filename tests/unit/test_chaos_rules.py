"""The chaos suite's copy of the alert rules: only `for:` changes (a minute becomes a second), and
what it writes, with a scrape configuration, is valid Prometheus input (promtool, when present)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.chaos_prometheus import ScrapeTarget, scrape_config
from tests.support.chaos_rules import RULES, scale_for_durations, write_scaled_rules
from tests.support.prometheus_tools import prometheus_tool


def _without_for(document: dict) -> list[dict]:
    return [
        {k: v for k, v in rule.items() if k != "for"}
        for group in document["groups"]
        for rule in group["rules"]
    ]


def test_only_for_durations_are_scaled() -> None:
    original = yaml.safe_load(RULES.read_text())
    scaled = scale_for_durations(original)
    assert _without_for(scaled) == _without_for(original)
    pairs = [
        (rule.get("for"), scaled_rule.get("for"))
        for group, scaled_group in zip(original["groups"], scaled["groups"], strict=True)
        for rule, scaled_rule in zip(group["rules"], scaled_group["rules"], strict=True)
    ]
    assert ("5m", "5000ms") in pairs
    assert ("2m", "2000ms") in pairs
    assert ("30m", "30000ms") in pairs
    assert all((before is None) == (after is None) for before, after in pairs)


def test_a_rule_without_for_keeps_none_and_the_original_is_untouched() -> None:
    document = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0"}]}]}
    assert scale_for_durations(document) == document
    timed = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "x", "for": "90s"}]}]}
    assert scale_for_durations(timed)["groups"][0]["rules"][0]["for"] == "1500ms"
    assert timed["groups"][0]["rules"][0]["for"] == "90s"


def test_promtool_accepts_the_scaled_rules_and_the_scrape_configuration(tmp_path: Path) -> None:
    promtool = prometheus_tool("promtool")
    rules = write_scaled_rules(tmp_path)
    config = tmp_path / "prometheus.yml"
    targets = [
        ScrapeTarget("geoledger-ingest", "127.0.0.1:8101", {"region": "us"}),
        ScrapeTarget("geoledger-crr", "127.0.0.1:9464", {}),
    ]
    config.write_text(yaml.safe_dump(scrape_config(targets, rules)))
    checked = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
