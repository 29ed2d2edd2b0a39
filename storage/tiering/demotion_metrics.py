"""The demotion's metrics (names fixed by issue 11). To be merged into storage/tiering/metrics.py,
the one home of the tiering metrics, once both exist on main."""

from __future__ import annotations

from prometheus_client import Counter

TIER_DEMOTIONS = Counter(
    "tier_demotions_total",
    "Bodies moved down a tier (hot -> warm, warm -> cold), counted once their rows point there.",
    ["from", "to"],
)
COLD_DRIVER_ERRORS = Counter(
    "cold_driver_errors_total",
    "Failed operations of the cold tier's object store, by operation and error type.",
    ["op", "reason"],
)
