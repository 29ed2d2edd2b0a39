"""`geoledger dp budget show | set`: per-tenant privacy budgets (ledger/dp_budget.py) in the
budget region's control database."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from cli.common import ConfigOption, JsonOption, console, print_json, settings_from
from cli.dp_options import WhoOption, fail_dp, operator
from ledger.config import Settings
from ledger.dp_budget import Budget
from ledger.dp_query import PrivacyCost, parse_cost, plain
from ledger.errors import DpInputError
from storage.dp.budget_db import budget_db, budget_db_name
from storage.dp.budget_store import read_budget, read_budgets, require_tenant, set_budget
from storage.dp.errors import DpError

dp_app = typer.Typer(help="Differential privacy: per-tenant budgets of `geoledger export dp`.")
budget_app = typer.Typer(help="Show or set a tenant's (epsilon, delta) budget.")
dp_app.add_typer(budget_app, name="budget")


@budget_app.command("show")
def show(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant (default: all).")
    ] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Each tenant's total budget, what its exports spent (basic composition) and what is
    left."""
    settings = settings_from(config)
    try:
        budgets = asyncio.run(_show(settings, tenant))
    except DpError as exc:
        fail_dp(exc)
    if json_output:
        print_json({"budgets": [b.as_json() for b in budgets]})
    else:
        print_budgets(budgets)


@budget_app.command("set")
def set_(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")],
    epsilon: Annotated[str, typer.Option("--epsilon", help="Total epsilon, > 0.")],
    delta: Annotated[str, typer.Option("--delta", help="Total delta, 0 <= delta < 1.")] = "0",
    who: WhoOption = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Set the tenant's total (epsilon, delta) budget. What it already spent stays spent: the
    remaining budget is the new total minus the spend ledger's sum."""
    settings = settings_from(config)
    try:
        total = parse_cost(epsilon, delta, "budget ")
        budget = asyncio.run(_set(settings, tenant, total, operator(who)))
    except (DpInputError, DpError) as exc:
        fail_dp(exc)
    if json_output:
        print_json(budget.as_json())
    else:
        print_budgets([budget])


async def _show(settings: Settings, tenant: str | None) -> list[Budget]:
    async with budget_db(settings) as conn:
        if tenant is None:
            return await read_budgets(conn)
        await require_tenant(conn, tenant, budget_db_name(settings))
        return [await read_budget(conn, tenant)]


async def _set(settings: Settings, tenant: str, total: PrivacyCost, who: str) -> Budget:
    async with budget_db(settings) as conn:
        return await set_budget(conn, tenant, total, who, budget_db_name(settings))


def print_budgets(budgets: list[Budget]) -> None:
    table = Table(title="DP budgets (basic composition)")
    for column in ("tenant", "total ε", "total δ", "spent ε", "spent δ", "left ε", "left δ"):
        table.add_column(column, justify="left" if column == "tenant" else "right")
    for b in budgets:
        table.add_row(
            b.tenant,
            plain(b.total.epsilon),
            plain(b.total.delta),
            plain(b.spent.epsilon),
            plain(b.spent.delta),
            plain(b.remaining.epsilon),
            plain(b.remaining.delta),
        )
    console.print(table)
