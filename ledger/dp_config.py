"""Settings of differentially private exports (`[dp]`, `geoledger export dp` and `geoledger dp`).

Which region's control database holds the budgets matters: every region holds every tenant's
events, but a budget spent in one region and again in another would be spent twice, so all
budgets and the spend ledger live in one region's control database (`budget_region`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DpConfig(BaseModel):
    """Where budgets live, the confidence level of printed error bars, the public categories of
    `counts_by_type` and day window of `counts_by_day` when the command line gives none, and how
    often the ops worker samples the budget gauges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Empty: the first region of [regions].
    budget_region: str = ""
    confidence: float = Field(default=0.95, gt=0, lt=1)
    types: tuple[str, ...] = ()
    days: int = Field(default=30, ge=1, le=3660)
    sample_interval_s: float = Field(default=30.0, gt=0)
