"""Canary rollout metrics, exported by the worker that runs the canary's activities (the ops
queue's): names fixed by issue 15, the CanaryRolledBack alert in deploy/prometheus/ uses them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CANARY_STEP = Gauge(
    "canary_step",
    "The percentage of new work routed to the build a canary ramps (100: it is current; 0: none "
    "ramping, or rolled back).",
    ["deployment"],
)
CANARY_ROLLBACKS = Counter(
    "canary_rollbacks",
    "Canary rollbacks (ramp 0, current build unchanged), by what triggered them: a failed "
    "analysis, an error while ramping, or a person's abort.",
    ["deployment", "trigger"],
)
