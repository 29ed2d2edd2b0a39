"""One differentially private export, end to end: check the tenant, read its events in a
region, build the OpenDP measurement, then charge the budget and release the noisy answer in one
control-database transaction (storage/dp/budget_store.py). Everything before the spend only
reads, so a refused or failed export changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.config import Settings
from ledger.dp_budget import Budget
from ledger.dp_measure import PRIVACY_UNIT, DpMeasurement, build_measurement
from ledger.dp_query import DpQuery, DpQueryKind
from storage.dp.budget_db import budget_db, budget_db_name, budget_region
from storage.dp.budget_store import Spend, require_tenant, spend
from storage.dp.records import tenant_items
from storage.tiering.reader import TierReadOptions


@dataclass(frozen=True)
class Figure:
    """One released figure: its cell (a type, a day, or "sum"), the noisy value and the
    half-width of its interval at the export's confidence level."""

    label: str
    value: int
    error: int


@dataclass(frozen=True)
class ExportResult:
    """A released export with everything its reader needs to interpret it."""

    query: DpQuery
    region: str
    figures: list[Figure]
    confidence: float
    measurement: DpMeasurement
    spend_id: int
    spent_at: datetime
    who: str
    budget: Budget

    def as_json(self) -> dict[str, Any]:
        """What `geoledger export dp --json` prints."""
        loss = self.measurement.privacy_loss()
        return {
            "tenant": self.query.tenant,
            "query": self.query.kind.value,
            "mechanism": self.query.mechanism.value,
            "region": self.region,
            "figures": [
                {
                    "label": f.label,
                    "value": f.value,
                    "error": f.error,
                    "low": f.value - f.error,
                    "high": f.value + f.error,
                }
                for f in self.figures
            ],
            "confidence": self.confidence,
            "privacy_unit": PRIVACY_UNIT,
            "clamp": self.measurement.clamp,
            "sensitivity": self.measurement.sensitivity,
            "sensitivity_norm": "L1" if self.query.mechanism.value == "laplace" else "L2",
            "noise_scale": self.measurement.scale,
            "cost": self.query.cost.as_json(),
            "opendp_privacy_map": list(loss) if isinstance(loss, tuple) else loss,
            "spend": {"id": self.spend_id, "at": self.spent_at.isoformat(), "who": self.who},
            "budget": self.budget.as_json(),
        }


async def run_export(
    settings: Settings, query: DpQuery, who: str, region: str | None = None
) -> ExportResult:
    """Release `query` over its tenant's events in `region` (default: the budget region),
    charged to the tenant's budget as `who`.

    Raises UnknownTenantError, OverBudgetError (nothing recorded), DpUnavailableError;
    BodyArchived or TieredReadError when a body cannot be read yet (nothing spent).
    """
    read_region = region or budget_region(settings)
    region_config = settings.region(read_region)
    async with budget_db(settings) as conn:
        await require_tenant(conn, query.tenant, budget_db_name(settings))
    # Reading first keeps the budget row locked only for the check, insert and sampling.
    items = await tenant_items(region_config, TierReadOptions.from_settings(settings), query)
    measurement = build_measurement(query)
    # Everything that can fail is done before the spend: once it commits, the result is shown.
    confidence = settings.dp.confidence
    error = measurement.error_bound(confidence)
    parameters = {**query.parameters(), "region": read_region, "noise_scale": measurement.scale}
    charge = Spend(
        query.tenant, query.kind.value, query.mechanism.value, query.cost, parameters, who
    )
    async with budget_db(settings) as conn:
        spent = await spend(conn, charge, lambda: measurement.release(items))
    labels = list(query.categories) if query.kind is not DpQueryKind.SUM else ["sum"]
    figures = [
        Figure(label, value, error) for label, value in zip(labels, spent.release, strict=True)
    ]
    return ExportResult(
        query,
        read_region,
        figures,
        confidence,
        measurement,
        spent.spend_id,
        spent.spent_at,
        who,
        spent.budget,
    )
