"""What `geoledger export dp` accepts (ledger/dp_query.py) and the exact budget arithmetic of
basic composition (ledger/dp_budget.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledger.dp_budget import Budget
from ledger.dp_query import PrivacyCost, parse_cost, parse_query
from ledger.dp_records import event_item, utc_day
from ledger.errors import DpInputError

TODAY = date(2026, 12, 7)


def query(**changes: Any) -> Any:
    asked: dict[str, Any] = {
        "tenant": "acme",
        "query": "counts_by_type",
        "mechanism": "laplace",
        "epsilon": "0.5",
        "delta": "0",
        "types": ("a", "b"),
        "since": TODAY,
        "until": TODAY,
        "bounds": (None, None, None),
    }
    return parse_query(**{**asked, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epsilon": "0"}, "epsilon: expected a number > 0, got 0"),
        ({"epsilon": "-1"}, "epsilon: expected a number > 0"),
        ({"epsilon": "abc"}, "epsilon: expected a decimal number"),
        ({"epsilon": "inf"}, "epsilon: expected a finite number"),
        ({"query": "median"}, "query: expected one of counts_by_type, counts_by_day, sum"),
        ({"mechanism": "uniform"}, "mechanism: expected one of laplace, gaussian"),
        ({"delta": "1e-6"}, "laplace is pure epsilon-DP and takes delta 0"),
        ({"mechanism": "gaussian"}, "gaussian needs delta > 0"),
        ({"mechanism": "gaussian", "delta": "1"}, "delta: expected 0 <= delta < 1"),
        ({"tenant": "Acme!"}, "tenant:"),
        ({"types": ()}, "counts_by_type: expected the public event types"),
        (
            {"query": "counts_by_day", "since": date(2026, 12, 8)},
            "expected --since <= --until",
        ),
        ({"query": "sum", "bounds": ("amount", 10, 0)}, "lower 10 > upper 0"),
        ({"query": "sum", "bounds": (None, 0, 10)}, "sum: expected --field, --lower and --upper"),
    ],
)
def test_bad_input_is_refused_saying_what_is_wrong(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DpInputError, match=message):
        query(**changes)


def test_categories_are_public_never_from_the_data() -> None:
    by_day = query(query="counts_by_day", since=date(2026, 12, 5), until=TODAY)
    assert by_day.categories == ("2026-12-05", "2026-12-06", "2026-12-07")
    assert query(types=("b", "a", "b", "")).categories == ("b", "a")
    assert query(query="sum", bounds=("amount", -5, 3)).bounds.sensitivity == 5


def test_each_event_contributes_one_item_from_its_body() -> None:
    body = (
        b'{"event_id":"e","occurred_at":"2026-12-07T23:30:00-02:00","payload":'
        b'{"amount":12.6,"flag":true},"tenant_id":"acme","type":"order.paid"}'
    )
    assert event_item(query(), body) == "order.paid"
    assert event_item(query(query="counts_by_day"), body) == "2026-12-08"
    assert event_item(query(query="sum", bounds=("amount", 0, 10)), body) == 13
    assert event_item(query(query="sum", bounds=("flag", 0, 10)), body) is None
    assert event_item(query(query="sum", bounds=("missing", 0, 10)), body) is None
    assert utc_day("2026-12-07t00:00:00.123456789z") == "2026-12-07"


def cost(epsilon: str, delta: str = "0") -> PrivacyCost:
    return parse_cost(epsilon, delta)


def test_basic_composition_adds_exactly_and_admits_the_edge() -> None:
    budget = Budget("acme", cost("1", "2e-6"))
    for _ in range(10):
        assert budget.admits(cost("0.1"))
        budget = budget.after(cost("0.1"))
    assert budget.spent.epsilon == Decimal("1.0")  # no float drift: ten tenths are one
    assert budget.remaining == PrivacyCost(Decimal(0), Decimal("2e-6"))
    assert not budget.admits(cost("0.0000001"))


def test_delta_is_a_budget_of_its_own() -> None:
    budget = Budget("acme", cost("10", "2e-6")).after(cost("1", "1e-6"))
    assert budget.admits(cost("1", "1e-6"))
    assert not budget.admits(cost("1", "1.000001e-6"))
    assert budget.after(cost("1", "1e-6")).remaining.delta == 0


def test_a_budget_set_below_its_spend_leaves_nothing() -> None:
    budget = Budget("acme", cost("0.5"), cost("0.75"))
    assert budget.remaining.epsilon == 0 and not budget.admits(cost("0.001"))
