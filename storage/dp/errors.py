"""Errors of differentially private exports. Every message says what was expected and what was
got; none of them leaves anything changed."""

from __future__ import annotations

from ledger.dp_budget import Budget
from ledger.dp_query import PrivacyCost


class DpError(Exception):
    """Base of every error `storage.dp` raises."""


class UnknownTenantError(DpError):
    """The tenant has no signing key in the budget region's control database: no such tenant."""

    def __init__(self, tenant: str, where: str) -> None:
        super().__init__(f"unknown tenant {tenant!r}: no signing key registered in {where}")
        self.tenant = tenant


class OverBudgetError(DpError):
    """The export would take the tenant past its budget; it was refused and nothing recorded."""

    def __init__(self, budget: Budget, cost: PrivacyCost) -> None:
        super().__init__(
            f"tenant {budget.tenant!r}: export costing {cost.describe()} refused; remaining "
            f"budget {budget.remaining.describe()} (total {budget.total.describe()}, basic "
            "composition)"
        )
        self.budget = budget
        self.cost = cost


class DpUnavailableError(DpError):
    """A database or object store the export needs did not answer; nothing was spent."""
