"""The Grafana dashboards in deploy/grafana/dashboards/: each is valid JSON in the shape Grafana
provisions (unique panel ids and titles, the `datasource` variable), and every panel's PromQL
names only series that geoledger's processes export.

What is exported is read from prometheus_client's REGISTRY after importing what the processes
serve on /metrics (the ingest app and every worker queue's registration), not from a hand list,
so a renamed or removed metric fails here.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAFANA = REPO_ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

# Importing these registers every metric an ingest node (api.ingest.app) or a worker of any queue
# (workers.registry imports each queue's activities and samplers) serves.
EXPORTING_MODULES = ("api.ingest.app", "workers.registry")
# Series Prometheus itself writes for every scrape target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# The series names prometheus_client writes for a metric family of each type.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}
# Words of PromQL that are not series: aggregations, modifiers, set operators, literals.
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "limitk", "limit_ratio", "by", "without", "on", "ignoring",
    "group_left", "group_right", "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan",
}  # fmt: skip
# Current Grafana (10.4 / 11.x) writes dashboards at this schema version.
MIN_SCHEMA_VERSION = 39


@cache
def exported_series() -> frozenset[str]:
    for module in EXPORTING_MODULES:
        importlib.import_module(module)
    names = set(SCRAPE_SERIES)
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return frozenset(names)


def series_names(expr: str) -> set[str]:
    """The series a PromQL expression selects: identifiers that stand alone or are followed by
    `{` or `[`, without functions (an identifier followed by `(`), PromQL words, label names
    (inside braces or in `by (...)` and the like), strings, durations and Grafana variables."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # strings may hold anything
    text = re.sub(r"\$\{?\w+\}?", "1m", text)  # $__rate_interval, ${region}
    text = re.sub(r"\{[^{}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", "[]", text)  # ranges and subqueries
    # the label lists of by, without, on, ignoring, group_left and group_right
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", r"\1", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in PROMQL_WORDS:
            continue
        names.add(name)
    return names


def unknown_series(expr: str) -> set[str]:
    """The series of `expr` that no geoledger process exports."""
    return series_names(expr) - exported_series()


def _load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # the panels of a collapsed row


def _exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield panel["title"], target["expr"]


def test_there_are_dashboards_for_each_area() -> None:
    names = {path.stem for path in DASHBOARDS}
    assert names >= {"ingest", "crr", "dedup-shards", "tiering", "audit", "resharding"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_shape(path: Path) -> None:
    dashboard = _load(path)
    assert dashboard["schemaVersion"] >= MIN_SCHEMA_VERSION
    assert dashboard["uid"] and len(dashboard["uid"]) <= 40  # Grafana's limit
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = list(_panels(dashboard))
    assert panels, f"{path.name} has no panels"
    ids = [panel["id"] for panel in panels]
    titles = [panel["title"] for panel in panels]
    assert len(ids) == len(set(ids)), f"{path.name}: repeated panel ids {ids}"
    assert len(titles) == len(set(titles)), f"{path.name}: repeated panel titles {titles}"
    uses_region = False
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            uses_region |= "$region" in target.get("expr", "")
    # A `region` filter only where some query uses it, and defined wherever one does.
    assert uses_region == ("region" in variables), f"{path.name}: `region` variable vs queries"


def test_dashboard_uids_are_unique() -> None:
    uids = [_load(path)["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids)), uids


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_names_exported_series(path: Path) -> None:
    exprs = list(_exprs(_load(path)))
    assert exprs
    for title, expr in exprs:
        assert series_names(expr), f"{path.name} / {title}: no series found in {expr!r}"
        assert not unknown_series(expr), (
            f"{path.name} / {title}: {sorted(unknown_series(expr))} are not exported"
        )


# The parser on queries whose series are known: every one exported.
KNOWN = {
    "rate(ingest_events_total[5m])": {"ingest_events_total"},
    "histogram_quantile(0.99, sum by (le, region) "
    '(rate(wal_fsync_seconds_bucket{region=~"$region"}[$__rate_interval])))': {
        "wal_fsync_seconds_bucket"
    },
    "max by (region, shard) (dedup_shard_keys) / ignoring (shard) group_left "
    'sum by (region) (dedup_shard_keys{shard!="x"})': {"dedup_shard_keys"},
    "time() - migration_last_progress_timestamp_seconds > bool 1e3": {
        "migration_last_progress_timestamp_seconds"
    },
    "avg_over_time((wal_crr_lag_seconds > bool 60)[1h:1m])": {"wal_crr_lag_seconds"},
    'up{job="geoledger-ingest"} offset 5m': {"up"},
}
# Queries a dashboard must not carry, with the names that must be flagged: a counter without its
# _total, a histogram without a suffix, a typo, a recording rule (not exported by the code), a
# series inside a function.
BAD = {
    "rate(ingest_events[5m])": {"ingest_events"},
    "histogram_quantile(0.5, rate(ingest_ack_latency_seconds[5m]))": {"ingest_ack_latency_seconds"},
    'sum by (region) (wal_crr_lag_second{target="eu"})': {"wal_crr_lag_second"},
    "region:ingest_events_failed:ratio_rate5m > 0": {"region:ingest_events_failed:ratio_rate5m"},
    'up{job="geoledger-ingest"} or absent(no_such_series)': {"no_such_series"},
}


@pytest.mark.parametrize(("expr", "names"), KNOWN.items(), ids=list(KNOWN))
def test_parser_finds_the_series(expr: str, names: set[str]) -> None:
    assert series_names(expr) == names
    assert not unknown_series(expr)


@pytest.mark.parametrize(("expr", "unknown"), BAD.items(), ids=list(BAD))
def test_parser_flags_unknown_series(expr: str, unknown: set[str]) -> None:
    assert unknown_series(expr) == unknown


def test_a_panel_with_an_unknown_metric_is_rejected(tmp_path: Path) -> None:
    dashboard = _load(DASHBOARDS[0])
    dashboard["panels"][0]["targets"][0]["expr"] = "sum(rate(ingest_events_typo_total[5m]))"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dashboard))
    with pytest.raises(AssertionError, match="ingest_events_typo_total"):
        test_every_query_names_exported_series(bad)


def test_provisioning_points_at_the_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/geoledger.yml").read_text())
    assert [p["type"] for p in provider["providers"]] == ["file"]
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]
