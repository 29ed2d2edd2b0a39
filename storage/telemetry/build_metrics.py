"""Reads the Temporal SDK metrics of versioned workers from their /metrics endpoints and sums them
per build id of one deployment (the labels workers/deployment.py tags the SDK runtime with).

The canary analysis scrapes the workers itself rather than asking Prometheus: it needs no
Prometheus in the dev stack or in tests, it reads the counters at the instant the analysis runs
(no scrape interval or rate() window between a failure and the rollback), and a worker that
cannot be scraped is named in the reading instead of silently missing from a query result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ledger.canary_figures import BuildTotals

# The SDK's sample names (Prometheus exporter, core SDK) and the BuildTotals field each adds to.
_SAMPLES = {
    "temporal_workflow_completed": "workflows_completed",
    "temporal_workflow_failed": "workflows_failed",
    "temporal_workflow_endtoend_latency_sum": "workflow_latency_ms_sum",
    "temporal_workflow_endtoend_latency_count": "workflow_latency_count",
    "temporal_activity_execution_latency_count": "activities",
    "temporal_activity_execution_failed": "activities_failed",
    "temporal_activity_execution_latency_sum": "activity_latency_ms_sum",
}
SCRAPE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class BuildReading:
    """Totals per build id of one deployment, and the targets that did not answer."""

    builds: dict[str, BuildTotals] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)


def totals_by_build(
    metrics_text: str, deployment: str, deployment_label: str, build_label: str
) -> dict[str, BuildTotals]:
    """Sum the SDK samples of `metrics_text` labelled with `deployment`, per build id."""
    sums: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            name = _SAMPLES.get(_without_total(sample.name))
            labels = sample.labels
            if name is None or labels.get(deployment_label) != deployment:
                continue
            build = labels.get(build_label, "")
            by_field = sums.setdefault(build, {})
            by_field[name] = by_field.get(name, 0.0) + float(sample.value)
    return {build: BuildTotals(**values) for build, values in sums.items()}


def _without_total(name: str) -> str:
    # The parser may present a counter sample with or without the `_total` suffix.
    return name.removesuffix("_total")


async def read_builds(
    targets: Sequence[str], deployment: str, deployment_label: str, build_label: str
) -> BuildReading:
    """Scrape every target and sum per build; unreachable targets are listed, not fatal."""
    reading = BuildReading()
    async with httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_S) as client:
        answers = await asyncio.gather(
            *(client.get(target) for target in targets), return_exceptions=True
        )
    for target, answer in zip(targets, answers, strict=True):
        if isinstance(answer, BaseException) or answer.status_code != 200:
            reading.unreachable.append(target)
            continue
        found = totals_by_build(answer.text, deployment, deployment_label, build_label)
        _add(reading.builds, found.items())
    return reading


def _add(into: dict[str, BuildTotals], found: Iterable[tuple[str, BuildTotals]]) -> None:
    for build, totals in found:
        into[build] = into[build].plus(totals) if build in into else totals
