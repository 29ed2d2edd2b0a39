"""Per-tenant privacy budget accounting: basic sequential composition.

Every export is charged the (epsilon, delta) it asked for, and a tenant's spent cost is the sum
over its exports (Dwork & Roth 2014, Theorem 3.16): Laplace exports are pure epsilon-DP (delta
0); Gaussian exports are charged the (epsilon, delta) their zCDP guarantee converts to
(ledger/dp_measure.py), not rho, so both mechanisms share one budget and one rule. zCDP
composition of Gaussian exports would be tighter; basic composition is never optimistic.
An export is admitted when spent + cost <= total in both coordinates, equality included;
arithmetic is exact (Decimal), so the edge is exactly the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ledger.dp_query import ZERO_COST, PrivacyCost


@dataclass(frozen=True)
class Budget:
    """A tenant's `total` budget and the `spent` sum of its exports."""

    tenant: str
    total: PrivacyCost
    spent: PrivacyCost = ZERO_COST

    @property
    def remaining(self) -> PrivacyCost:
        """What is left, never below zero (a budget set below what was spent leaves nothing)."""
        left = self.total - self.spent
        return PrivacyCost(max(left.epsilon, Decimal(0)), max(left.delta, Decimal(0)))

    def admits(self, cost: PrivacyCost) -> bool:
        """True when an export costing `cost` fits: spent + cost <= total in epsilon and delta."""
        return self.total.covers(self.spent + cost)

    def after(self, cost: PrivacyCost) -> Budget:
        """The budget once `cost` is spent."""
        return Budget(self.tenant, self.total, self.spent + cost)

    def as_json(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "total": self.total.as_json(),
            "spent": self.spent.as_json(),
            "remaining": self.remaining.as_json(),
            "composition": "basic",
        }
