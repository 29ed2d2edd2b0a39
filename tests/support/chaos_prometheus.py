"""A real Prometheus for a chaos test: on loopback, scraping the test's processes every second,
evaluating deploy/prometheus/geoledger-rules.yml (its `for:` scaled down, tests/support/
chaos_rules.py) every second, and asked through its HTTP API which alerts fire.

The `prometheus` binary comes with promtool in Debian's `prometheus` package, which .ci/run
installs. Without it a chaos test fails in CI (CI=true) and skips on a workstation.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from storage.embedded.process import free_port
from tests.support.chaos_artifacts import ChaosArtifacts
from tests.support.chaos_rules import write_scaled_rules
from tests.support.prometheus_tools import prometheus_tool
from tests.support.tool_process import ToolProcess, spawn

INTERVAL = "1s"


@dataclass(frozen=True)
class ScrapeTarget:
    """One process to scrape: its job (the rules select on `job`), `host:port` and labels."""

    job: str
    address: str
    labels: dict[str, str]


def scrape_config(targets: list[ScrapeTarget], rules: Path) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml's shape with the test's targets and one-second cycles."""
    jobs: dict[str, list[ScrapeTarget]] = {}
    for target in targets:
        jobs.setdefault(target.job, []).append(target)
    return {
        "global": {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": job,
                # As in deploy/prometheus/prometheus.yml: ship metrics keep their own `region`.
                "honor_labels": True,
                "scrape_timeout": INTERVAL,
                "static_configs": [
                    {"targets": [t.address], "labels": t.labels} for t in job_targets
                ],
            }
            for job, job_targets in jobs.items()
        ],
    }


@dataclass
class AlertWatch:
    """The alerts Prometheus reports, polled; every change goes to the timeline artifact."""

    base_url: str
    artifacts: ChaosArtifacts
    timeline: list[dict[str, Any]] = field(default_factory=list)
    _last: dict[tuple[str, tuple[tuple[str, str], ...]], str] = field(default_factory=dict)

    async def alerts(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=3) as client:
            answer = await client.get("/api/v1/alerts")
        answer.raise_for_status()
        alerts: list[dict[str, Any]] = answer.json()["data"]["alerts"]
        self._record(alerts)
        return alerts

    def _record(self, alerts: list[dict[str, Any]]) -> None:
        now = {
            (a["labels"]["alertname"], tuple(sorted(a["labels"].items()))): a["state"]
            for a in alerts
        }
        for key in now.keys() | self._last.keys():
            state = now.get(key, "inactive")
            if state != self._last.get(key, "inactive"):
                self.timeline.append(
                    {"at": time.time(), "alert": key[0], "labels": dict(key[1]), "state": state}
                )
        self._last = now
        self.artifacts.write_json("alert-timeline", self.timeline)

    async def firing(self, name: str, labels: dict[str, str]) -> bool:
        """Whether an alert `name` whose labels include `labels` fires now."""
        return any(
            _matches(alert, name, labels) and alert["state"] == "firing"
            for alert in await self.alerts()
        )

    async def wait_firing(
        self, name: str, labels: dict[str, str], timeout_s: float
    ) -> dict[str, Any]:
        """The first alert `name` whose labels include `labels`, once it is firing."""
        deadline = time.monotonic() + timeout_s
        while True:
            for alert in await self.alerts():
                if _matches(alert, name, labels) and alert["state"] == "firing":
                    return alert
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name} {labels} not firing after {timeout_s}s; timeline: {self.timeline}"
                )
            await asyncio.sleep(0.5)

    async def wait_gone(self, name: str, labels: dict[str, str], timeout_s: float) -> None:
        """Until no alert `name` with `labels` is pending or firing any more."""
        deadline = time.monotonic() + timeout_s
        while any(_matches(alert, name, labels) for alert in await self.alerts()):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name} {labels} still active after {timeout_s}s; timeline: {self.timeline}"
                )
            await asyncio.sleep(0.5)


def _matches(alert: dict[str, Any], name: str, labels: dict[str, str]) -> bool:
    have = alert["labels"]
    return have.get("alertname") == name and all(have.get(k) == v for k, v in labels.items())


@dataclass
class RunningPrometheus:
    process: ToolProcess
    base_url: str
    watch: AlertWatch

    async def save_targets(self) -> None:
        """Each scrape target's last health and error, as Prometheus saw them, to artifacts."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=3) as client:
            answer = await client.get("/api/v1/targets")
        active = answer.json()["data"]["activeTargets"]
        self.watch.artifacts.write_json(
            "scrape-targets",
            [
                {k: t.get(k) for k in ("labels", "health", "lastError", "lastScrape")}
                for t in active
            ],
        )

    def stop(self) -> None:
        self.process.stop()


async def start_prometheus(
    artifacts: ChaosArtifacts, targets: list[ScrapeTarget], workdir: Path
) -> RunningPrometheus:
    """Prometheus scraping `targets` with the scaled rules; returns once it is ready. Its log is
    logs/prometheus.log of the artifacts, its configuration prometheus.yml beside it."""
    binary = prometheus_tool("prometheus")
    rules = write_scaled_rules(artifacts.folder)
    config = artifacts.folder / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(targets, rules), sort_keys=False))
    address = f"127.0.0.1:{free_port()}"
    process = spawn(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address={address}",
            # No console is served; Debian's default template paths differ from upstream's.
            f"--web.console.templates={workdir}",
            f"--web.console.libraries={workdir}",
        ],
        artifacts.logs / "prometheus.log",
    )
    base_url = f"http://{address}"
    await process.wait_ready(f"{base_url}/-/ready")
    return RunningPrometheus(process, base_url, AlertWatch(base_url, artifacts))
