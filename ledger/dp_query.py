"""What one differentially private export asks for: the query, the mechanism, the privacy cost
(epsilon, delta) and the public parameters that bound each event's contribution.

Privacy unit: one event (one winning key `(tenant_id, event_id)` of the dedup store), under
add/remove neighbours. Each event falls in at most one cell of a count, and `sum` clamps each
event's value to [lower, upper], so one event changes a count vector by at most 1 (L1 and L2)
and a sum by at most max(|lower|, |upper|).

The categories of a count are public, never read from the data, so which cells exist leaks
nothing: `counts_by_type` counts the event types named on the command line (or `[dp] types`),
`counts_by_day` the UTC days of a window ending today. Events outside the categories count
nowhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from ledger.envelope import check_tenant_id
from ledger.errors import DpInputError

_E = TypeVar("_E", bound=StrEnum)

MAX_CATEGORIES = 10_000
"""A bound on the cells of one count (the histogram is held in memory and printed)."""


class DpQueryKind(StrEnum):
    COUNTS_BY_TYPE = "counts_by_type"
    COUNTS_BY_DAY = "counts_by_day"
    SUM = "sum"


class Mechanism(StrEnum):
    """Discrete Laplace (pure epsilon-DP) or discrete Gaussian (zCDP, converted to (epsilon,
    delta)-DP); both sample integers (Canonne, Kamath, Steinke 2020)."""

    LAPLACE = "laplace"
    GAUSSIAN = "gaussian"


@dataclass(frozen=True, order=True)
class PrivacyCost:
    """An (epsilon, delta) pair, exact decimals so that budgets add up without rounding: ten
    spends of 0.1 use a budget of 1 exactly."""

    epsilon: Decimal
    delta: Decimal

    def __add__(self, other: PrivacyCost) -> PrivacyCost:
        return PrivacyCost(self.epsilon + other.epsilon, self.delta + other.delta)

    def __sub__(self, other: PrivacyCost) -> PrivacyCost:
        return PrivacyCost(self.epsilon - other.epsilon, self.delta - other.delta)

    def covers(self, cost: PrivacyCost) -> bool:
        """True when `cost` fits in this (remaining) budget, equality included."""
        return cost.epsilon <= self.epsilon and cost.delta <= self.delta

    def as_json(self) -> dict[str, str]:
        """Both as plain decimal text (exact; JSON numbers would round)."""
        return {"epsilon": plain(self.epsilon), "delta": plain(self.delta)}

    def describe(self) -> str:
        """`epsilon E, delta D` in plain decimals, for messages."""
        return f"epsilon {plain(self.epsilon)}, delta {plain(self.delta)}"


def plain(value: Decimal) -> str:
    """`value` without exponent or trailing zeros: 1E+12 is 1000000000000, 0.10 is 0.1."""
    return format(value.normalize(), "f")


ZERO_COST = PrivacyCost(Decimal(0), Decimal(0))


@dataclass(frozen=True)
class SumBounds:
    """`sum`'s payload field and the clamp applied to each event's value."""

    field: str
    lower: int
    upper: int

    @property
    def sensitivity(self) -> int:
        """How much adding or removing one event can move the sum."""
        return max(abs(self.lower), abs(self.upper))


@dataclass(frozen=True)
class DpQuery:
    """One export, validated: see `parse_query`."""

    tenant: str
    kind: DpQueryKind
    mechanism: Mechanism
    cost: PrivacyCost
    categories: tuple[str, ...]
    bounds: SumBounds | None

    def parameters(self) -> dict[str, Any]:
        """What the spend ledger records beside the query name and cost."""
        found: dict[str, Any] = {"mechanism": self.mechanism.value, **self.cost.as_json()}
        if self.categories:
            found["categories"] = list(self.categories)
        if self.bounds is not None:
            found["field"] = self.bounds.field
            found["lower"] = self.bounds.lower
            found["upper"] = self.bounds.upper
        return found


def parse_cost(epsilon: str, delta: str, what: str = "") -> PrivacyCost:
    """(epsilon, delta) from their decimal text: epsilon finite and > 0, 0 <= delta < 1."""
    eps = _decimal(epsilon, f"{what}epsilon")
    dlt = _decimal(delta, f"{what}delta")
    if eps <= 0:
        raise DpInputError(f"{what}epsilon: expected a number > 0, got {epsilon}")
    if not 0 <= dlt < 1:
        raise DpInputError(f"{what}delta: expected 0 <= delta < 1, got {delta}")
    return PrivacyCost(eps, dlt)


def parse_query(
    *,
    tenant: str,
    query: str,
    mechanism: str,
    epsilon: str,
    delta: str,
    types: tuple[str, ...],
    since: date,
    until: date,
    bounds: tuple[str | None, int | None, int | None],
) -> DpQuery:
    """The export asked for, or DpInputError saying what is wrong.

    `types` are the public categories of counts_by_type; `since`..`until` (inclusive, UTC) the
    days of counts_by_day; `bounds` the field, lower and upper of sum. Laplace is pure
    epsilon-DP, so it takes delta 0; Gaussian needs delta > 0.
    """
    try:
        check_tenant_id(tenant)
    except ValueError as exc:
        raise DpInputError(f"tenant: {exc}") from exc
    kind = _choice(DpQueryKind, query, "query")
    noise = _choice(Mechanism, mechanism, "mechanism")
    cost = parse_cost(epsilon, delta)
    if noise is Mechanism.LAPLACE and cost.delta != 0:
        raise DpInputError(f"delta: laplace is pure epsilon-DP and takes delta 0, got {delta}")
    if noise is Mechanism.GAUSSIAN and cost.delta == 0:
        raise DpInputError("delta: gaussian needs delta > 0 (e.g. --delta 1e-6), got 0")
    categories: tuple[str, ...] = ()
    sum_bounds = None
    if kind is DpQueryKind.COUNTS_BY_TYPE:
        categories = _types(types)
    elif kind is DpQueryKind.COUNTS_BY_DAY:
        categories = _days(since, until)
    else:
        sum_bounds = _bounds(*bounds)
    return DpQuery(tenant, kind, noise, cost, categories, sum_bounds)


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise DpInputError(f"{what}: expected a decimal number, got {text!r}") from exc
    if not value.is_finite() or not math.isfinite(float(value)):
        raise DpInputError(f"{what}: expected a finite number, got {text!r}")
    return value


def _choice(enum: type[_E], value: str, what: str) -> _E:
    try:
        return enum(value)
    except ValueError as exc:
        known = ", ".join(member.value for member in enum)
        raise DpInputError(f"{what}: expected one of {known}, got {value!r}") from exc


def _types(types: tuple[str, ...]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(t for t in types if t))
    if not chosen:
        raise DpInputError(
            "counts_by_type: expected the public event types to count (--types a,b or "
            "[dp] types), got none; types are never read from the data, so their set leaks nothing"
        )
    if len(chosen) > MAX_CATEGORIES:
        raise DpInputError(f"--types: expected at most {MAX_CATEGORIES}, got {len(chosen)}")
    return chosen


def _days(since: date, until: date) -> tuple[str, ...]:
    if since > until:
        raise DpInputError(f"days: expected --since <= --until, got {since} > {until}")
    count = (until - since).days + 1
    if count > MAX_CATEGORIES:
        raise DpInputError(f"days: expected at most {MAX_CATEGORIES} days, got {count}")
    return tuple((since + timedelta(days=n)).isoformat() for n in range(count))


def _bounds(field: str | None, lower: int | None, upper: int | None) -> SumBounds:
    if not field or lower is None or upper is None:
        raise DpInputError(
            "sum: expected --field, --lower and --upper (the clamp that bounds each event's "
            f"contribution), got field={field!r}, lower={lower!r}, upper={upper!r}"
        )
    if lower > upper:
        raise DpInputError(f"sum: expected lower <= upper, got lower {lower} > upper {upper}")
    return SumBounds(field, lower, upper)
