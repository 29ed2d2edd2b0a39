"""`dp_budget_remaining{tenant}` and `dp_exports_total{tenant,mechanism}` (issue 15 names them;
no `geoledger_` prefix).

`geoledger export dp` is a short process that Prometheus never scrapes, so neither series comes
from it: the `geoledger-ops` worker samples the budget database (workers/dp_sampler.py) and
exports what it read. The export counter is the spend ledger's row count per tenant and
mechanism: the ledger is append-only, so the count never goes down and is a true counter, right
after a restart too, and it counts exactly the exports that were released.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import REGISTRY, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from ledger.dp_budget import Budget

DP_BUDGET_REMAINING = Gauge(
    "dp_budget_remaining",
    "Epsilon left of a tenant's DP export budget (basic composition), from the budget database.",
    ["tenant"],
)


class ExportsCollector(Collector):
    """`dp_exports_total{tenant,mechanism}` from the last sampled spend ledger counts."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    def update(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Replace the counts with those just read from the spend ledger."""
        self._counts = dict(counts)

    def collect(self) -> Iterable[CounterMetricFamily]:
        """The counter family, one sample per (tenant, mechanism) with a released export."""
        family = CounterMetricFamily(
            "dp_exports",
            "DP exports released (rows of the spend ledger), by tenant and mechanism.",
            labels=["tenant", "mechanism"],
        )
        for (tenant, mechanism), count in sorted(self._counts.items()):
            family.add_metric([tenant, mechanism], count)
        yield family


DP_EXPORTS = ExportsCollector()
REGISTRY.register(DP_EXPORTS)


def export_dp_metrics(budgets: Iterable[Budget], counts: Mapping[tuple[str, str], int]) -> None:
    """Set both series from one sample of the budget database."""
    for budget in budgets:
        DP_BUDGET_REMAINING.labels(budget.tenant).set(float(budget.remaining.epsilon))
    DP_EXPORTS.update(counts)
