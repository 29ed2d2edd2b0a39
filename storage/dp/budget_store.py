"""Per-tenant privacy budgets and the spend ledger in the budget region's control database
(migration 0015).

A spend runs in one transaction: lock the tenant's dp_budgets row (FOR UPDATE, so concurrent
exports of one tenant queue here), sum its dp_spends, check the new cost fits
(ledger/dp_budget.py), insert the spend row, compute the release, commit. The result exists
outside the transaction only once the spend is committed; a refusal or any failure before the
commit rolls back and leaves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from ledger.dp_budget import Budget
from ledger.dp_query import PrivacyCost
from storage.dp.errors import OverBudgetError, UnknownTenantError

_T = TypeVar("_T")

TENANT_HAS_KEY = "SELECT EXISTS (SELECT 1 FROM tenant_keys WHERE tenant_id = $1)"

UPSERT_BUDGET = """
INSERT INTO dp_budgets (tenant_id, epsilon, delta, updated_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id) DO UPDATE
SET epsilon = EXCLUDED.epsilon, delta = EXCLUDED.delta, updated_by = EXCLUDED.updated_by,
    updated_at = now()
"""

_BUDGET_COLUMNS = """
SELECT b.tenant_id, b.epsilon, b.delta,
       coalesce(sum(s.epsilon), 0) AS spent_epsilon, coalesce(sum(s.delta), 0) AS spent_delta,
       count(s.id) AS exports
FROM dp_budgets b LEFT JOIN dp_spends s USING (tenant_id)
"""
SELECT_BUDGET = _BUDGET_COLUMNS + "WHERE b.tenant_id = $1 GROUP BY b.tenant_id"
SELECT_BUDGETS = _BUDGET_COLUMNS + "GROUP BY b.tenant_id ORDER BY b.tenant_id"

LOCK_BUDGET = "SELECT tenant_id FROM dp_budgets WHERE tenant_id = $1 FOR UPDATE"

INSERT_SPEND = """
INSERT INTO dp_spends (tenant_id, query, mechanism, epsilon, delta, parameters, who)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
RETURNING id, spent_at
"""

COUNT_EXPORTS = """
SELECT tenant_id, mechanism, count(*) AS exports FROM dp_spends GROUP BY tenant_id, mechanism
"""


@dataclass(frozen=True)
class Spend:
    """What the export asks to be charged and recorded."""

    tenant: str
    query: str
    mechanism: str
    cost: PrivacyCost
    parameters: dict[str, Any]
    who: str


@dataclass(frozen=True)
class Spent(Generic[_T]):
    """A committed spend: its ledger row id and time, the budget after it, and the release."""

    spend_id: int
    spent_at: Any
    budget: Budget
    release: _T


async def require_tenant(conn: Any, tenant: str, where: str) -> None:
    """Raise UnknownTenantError unless `tenant` ever had a signing key (revoked ones count)."""
    if not await conn.fetchval(TENANT_HAS_KEY, tenant):
        raise UnknownTenantError(tenant, where)


async def read_budget(conn: Any, tenant: str) -> Budget:
    """The tenant's budget and what it spent; a tenant without a row has a zero budget."""
    row = await conn.fetchrow(SELECT_BUDGET, tenant)
    return _budget(row) if row is not None else Budget(tenant, PrivacyCost(Decimal(0), Decimal(0)))


async def read_budgets(conn: Any) -> list[Budget]:
    """Every tenant that has a budget row, by tenant."""
    return [_budget(row) for row in await conn.fetch(SELECT_BUDGETS)]


async def export_counts(conn: Any) -> dict[tuple[str, str], int]:
    """How many exports each (tenant, mechanism) released: the spend ledger's rows."""
    return {
        (row["tenant_id"], row["mechanism"]): int(row["exports"])
        for row in await conn.fetch(COUNT_EXPORTS)
    }


async def set_budget(conn: Any, tenant: str, total: PrivacyCost, who: str, where: str) -> Budget:
    """Set `tenant`'s total budget (what it has spent stays spent) and return it; `where` names
    the database for an UnknownTenantError."""
    async with conn.transaction():
        await require_tenant(conn, tenant, where)
        await conn.execute(UPSERT_BUDGET, tenant, total.epsilon, total.delta, who)
        return await read_budget(conn, tenant)


async def spend(conn: Any, spend: Spend, release: Callable[[], _T]) -> Spent[_T]:
    """Charge `spend` against its tenant's budget and compute `release()` in the transaction
    that records it (module docstring). Raises OverBudgetError when it does not fit (the
    tenant without a budget row has none), with nothing written. `conn` is an asyncpg
    connection of the budget region's control database."""
    async with conn.transaction():
        await conn.execute(LOCK_BUDGET, spend.tenant)
        budget = await read_budget(conn, spend.tenant)
        if not budget.admits(spend.cost):
            raise OverBudgetError(budget, spend.cost)
        row = await conn.fetchrow(
            INSERT_SPEND,
            spend.tenant,
            spend.query,
            spend.mechanism,
            spend.cost.epsilon,
            spend.cost.delta,
            json.dumps(spend.parameters, sort_keys=True),
            spend.who,
        )
        released = release()
    return Spent(int(row["id"]), row["spent_at"], budget.after(spend.cost), released)


def _budget(row: Any) -> Budget:
    return Budget(
        row["tenant_id"],
        PrivacyCost(Decimal(row["epsilon"]), Decimal(row["delta"])),
        PrivacyCost(Decimal(row["spent_epsilon"]), Decimal(row["spent_delta"])),
    )
