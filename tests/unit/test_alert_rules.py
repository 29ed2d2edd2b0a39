"""The Prometheus alert rules in deploy/prometheus/: promtool accepts them and their unit tests
pass, those unit tests really pin each alert down (a rule mutated to fire early, late or never
fails them), and every alert carries a runbook link that resolves to a runbook section.

promtool comes from Debian's `prometheus` package. Without it these tests skip on a workstation,
but fail under CI (CI=true), where .ci/run installs it.
"""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prometheus_tools import prometheus_tool
from tests.unit.test_runbooks import REQUIRED_SECTIONS, load_runbook

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = REPO_ROOT / "deploy" / "prometheus"
RULES = RULES_DIR / "geoledger-rules.yml"
RULE_TESTS = RULES_DIR / "geoledger-rules_test.yml"
SCRAPE_CONFIG = RULES_DIR / "prometheus.yml"
RUNBOOKS = REPO_ROOT / "runbooks"

# ARCHITECTURE §3/§5 and issues 4, 12 and 13 fix these names: dashboards, routes and runbooks
# use them.
FIXED_ALERTS = {
    "WalReplicationLag",
    "GeoRegionDown",
    "GeoDedupDivergence",
    "CrrManifestGap",
    "CrrStoreIncomplete",
    "AuditBacklogAge",
    "AuditDLQOverflow",
    "AuditTaskFailureRate",
    "WitnessUnreachable",
    "AuditForkDetected",
    "MigrationStalled",
    "MigrationVerifyMismatch",
    "CanaryRolledBack",
    "IngestErrorBudgetBurn",
    "CrrLagErrorBudgetBurn",
    "ScrapeJobAbsent",
}
REQUIRED_ANNOTATIONS = {"summary", "description", "runbook_url"}
SEVERITIES = {"warning", "critical"}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _alert_rules(document: Any) -> list[dict[str, Any]]:
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


ALERT_RULES = _alert_rules(_load(RULES))
# promtool counts recording rules too (the audit SLO's error ratios).
RULE_COUNT = sum(len(group["rules"]) for group in _load(RULES)["groups"])


def _rule_id(rule: dict[str, Any]) -> str:
    labels = dict(rule.get("labels", {}))
    # Further labels tell apart the rules of one alert and severity (AuditBacklogAge's triggers).
    return "-".join([rule["alert"], labels.pop("severity", "?"), *labels.values()])


@pytest.fixture(scope="module")
def promtool() -> str:
    return prometheus_tool("promtool")


def _run(promtool: str, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, arguments)], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_check_rules_is_clean(promtool: str) -> None:
    done = _run(promtool, "check", "rules", RULES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {RULE_COUNT} rules found" in done.stdout, done.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    done = _run(promtool, "test", "rules", RULE_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout, done.stdout


def test_the_fixed_alerts_exist() -> None:
    assert {rule["alert"] for rule in ALERT_RULES} >= FIXED_ALERTS


@pytest.mark.parametrize("rule", ALERT_RULES, ids=_rule_id)
def test_alert_has_severity_and_annotations(rule: dict[str, Any]) -> None:
    assert rule.get("labels", {}).get("severity") in SEVERITIES, rule
    missing = REQUIRED_ANNOTATIONS - set(rule.get("annotations", {}))
    assert not missing, f"{rule['alert']} lacks the annotations {sorted(missing)}"


@pytest.mark.parametrize("rule", ALERT_RULES, ids=_rule_id)
def test_runbook_url_resolves_to_a_runbook_section(rule: dict[str, Any]) -> None:
    url = rule["annotations"]["runbook_url"]
    # One style for every alert: a path relative to the repository root (README.md says why).
    assert url.startswith("runbooks/") and "://" not in url, url
    target, _, anchor = url.partition("#")
    path = (REPO_ROOT / target).resolve()
    assert path.parent == RUNBOOKS.resolve() and path.is_file(), f"{url}: no runbook {path}"
    runbook = load_runbook(path)
    anchors = [heading.anchor for heading in runbook.headings]
    assert not anchor or anchor in anchors, f"{url}: no heading #{anchor}; headings: {anchors}"
    inner, _ = runbook.section(anchor or None)
    titles = [heading.text.strip().lower() for heading in inner]
    assert set(REQUIRED_SECTIONS) <= set(titles), f"{url}: sections {titles}"
    assert rule["alert"] in runbook.subsection_text(anchor or None, "alert"), (
        f"{url}: its Alert section does not name {rule['alert']}"
    )


def _alert_tests(document: Any) -> list[dict[str, Any]]:
    return [case for group in document["tests"] for case in group.get("alert_rule_test", [])]


@pytest.mark.parametrize("rule", ALERT_RULES, ids=_rule_id)
def test_unit_tests_make_each_rule_fire_and_clear(rule: dict[str, Any]) -> None:
    """Each rule (each severity tier, each trigger) fires in some evaluation, and a later one of
    the same alert expects nothing: promtool then proves both."""
    cases = sorted(
        (case for case in _alert_tests(_load(RULE_TESTS)) if case["alertname"] == rule["alert"]),
        key=lambda case: _minutes(case["eval_time"]),
    )
    labels = {name: str(value) for name, value in rule["labels"].items()}
    firing = [
        _minutes(case["eval_time"])
        for case in cases
        if any(labels.items() <= a["exp_labels"].items() for a in case.get("exp_alerts") or [])
    ]
    assert firing, f"no unit test expects {_rule_id(rule)} to fire"
    cleared = [_minutes(c["eval_time"]) for c in cases if not c.get("exp_alerts")]
    assert any(t > firing[0] for t in cleared), f"no unit test expects {_rule_id(rule)} to clear"
    assert any(t < firing[0] for t in cleared), f"no unit test sees {_rule_id(rule)} not firing"


def _minutes(duration: str) -> int:
    """Prometheus durations as the tests write them: `7m`, `1h`, `1h30m`."""
    total, number = 0, ""
    for char in duration:
        if char.isdigit():
            number += char
        else:
            total += int(number) * {"m": 1, "h": 60}[char]
            number = ""
    return total


# Mutations of one rule that its unit tests must notice: the `for` dropped (fires too early), the
# `for` lengthened (fires too late), the threshold made unreachable (never fires).
def _drop_for(rule: dict[str, Any]) -> None:
    rule["for"] = "0m"


def _lengthen_for(rule: dict[str, Any]) -> None:
    rule["for"] = f"{2 * _minutes(rule.get('for', '0m')) + 5}m"


def _never_fire(rule: dict[str, Any]) -> None:
    rule["expr"] = f"({rule['expr']}) > 1e12"


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "for-dropped": _drop_for,
    "for-lengthened": _lengthen_for,
    "never-fires": _never_fire,
}


def _applicable_mutations() -> list[Any]:
    # Dropping a `for` that is not there changes nothing (GeoDedupDivergence fires at once).
    return [
        pytest.param(index, mutation, id=f"{_rule_id(rule)}-{mutation}")
        for index, rule in enumerate(ALERT_RULES)
        for mutation in MUTATIONS
        if not (mutation == "for-dropped" and _minutes(rule.get("for", "0m")) == 0)
    ]


@pytest.mark.parametrize(("index", "mutation"), _applicable_mutations())
def test_unit_tests_catch_a_mutated_rule(
    promtool: str, tmp_path: Path, index: int, mutation: str
) -> None:
    rule = ALERT_RULES[index]
    document = copy.deepcopy(_load(RULES))
    MUTATIONS[mutation](_alert_rules(document)[index])
    (tmp_path / RULES.name).write_text(yaml.safe_dump(document, sort_keys=False))
    # Only the test groups that assert on this alert: a mutated alert rule changes no other
    # alert (alerts feed no rule), and every group evaluates every rule, the 6h windows included.
    tests = _load(RULE_TESTS)
    tests["tests"] = [
        group
        for group in tests["tests"]
        if any(case["alertname"] == rule["alert"] for case in group.get("alert_rule_test", []))
    ]
    (tmp_path / RULE_TESTS.name).write_text(yaml.safe_dump(tests, sort_keys=False))
    done = _run(promtool, "test", "rules", tmp_path / RULE_TESTS.name)
    assert done.returncode != 0, f"the unit tests still pass with {_rule_id(rule)} {mutation}"
    assert "FAILED" in done.stdout + done.stderr


def _absent_jobs(expr: str) -> set[str]:
    return set(re.findall(r'absent\(up\{job="([^"]+)"\}\)', expr))


def test_every_scrape_job_has_an_absent_alert() -> None:
    """ScrapeJobAbsent names exactly the jobs of prometheus.yml: a job added there without its
    absent() (or renamed in one place) fails here."""
    jobs = {job["job_name"] for job in _load(SCRAPE_CONFIG)["scrape_configs"]}
    absent = [rule for rule in ALERT_RULES if rule["alert"] == "ScrapeJobAbsent"]
    assert absent, "no ScrapeJobAbsent rule"
    assert set().union(*(_absent_jobs(rule["expr"]) for rule in absent)) == jobs
    # The rules that read `up` by job name read a job that is scraped.
    for rule in ALERT_RULES:
        assert set(re.findall(r'up\{job="([^"]+)"', rule["expr"])) <= jobs, rule["alert"]


def test_promtool_check_config_is_clean(promtool: str) -> None:
    done = _run(promtool, "check", "config", SCRAPE_CONFIG)
    assert done.returncode == 0, done.stdout + done.stderr
