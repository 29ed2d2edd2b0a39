"""The OpenDP measurement of one export: the transformation that bounds each event's
contribution, the integer noise calibrated to the export's (epsilon, delta), and the error bars.

Every step is OpenDP's own constructor, so the library's privacy maps (not arithmetic of ours)
certify the cost: count_by_categories or clamp + sum, then discrete Laplace (pure epsilon-DP,
`make_laplace` on integers) or discrete Gaussian (zCDP, `make_gaussian` on integers, converted to
(epsilon, delta)-DP by `make_zCDP_to_approxDP` + `make_fix_delta`). The noise scale is the
smallest one whose map OpenDP checks against the cost (`binary_search_param`). Noise is sampled
by OpenDP's exact integer samplers (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for
Differential Privacy"), never by float arithmetic here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import opendp.prelude as dp

from ledger.dp_query import DpQuery, DpQueryKind, Mechanism
from ledger.errors import DpInputError

dp.enable_features("contrib")

# How far the scale search may look past its known bounds: wide enough for any epsilon, and
# bounded so that a probe never asks OpenDP for an infinite or zero scale.
_SEARCH_WIDTH = 1e6

PRIVACY_UNIT = "one event: each (tenant_id, event_id) winner counts in at most one cell"


@dataclass(frozen=True)
class DpMeasurement:
    """`measurement` (an OpenDP Measurement from the query's input vector to its integer
    output), with the noise `scale` it adds, the `sensitivity` OpenDP computed for one event (L1
    for Laplace, L2 for Gaussian) and the clamp that bounds it."""

    query: DpQuery
    measurement: Any
    scale: float
    sensitivity: int
    clamp: str

    def release(self, values: Sequence[Any]) -> list[int]:
        """The noisy answer over `values` (one item per event, see `ledger/dp_records.py`):
        a list of one count per category, or a one-item list holding the sum."""
        answer = self.measurement(list(values))
        return [int(v) for v in answer] if isinstance(answer, list) else [int(answer)]

    def error_bound(self, confidence: float) -> int:
        """The half-width of the interval that holds each released figure's noise with
        probability at least `confidence` (per figure, not all at once). OpenDP's accuracy
        helpers give P[|noise| >= a] = 1 - confidence; the floor keeps the coverage."""
        alpha = 1.0 - confidence
        if self.query.mechanism is Mechanism.LAPLACE:
            accuracy = float(dp.discrete_laplacian_scale_to_accuracy(self.scale, alpha))
        else:
            accuracy = float(dp.discrete_gaussian_scale_to_accuracy(self.scale, alpha))
        # For a scale so small that the noise is 0 with probability >= confidence, OpenDP
        # answers -inf: no error at all.
        return max(0, math.floor(accuracy)) if math.isfinite(accuracy) else 0

    def privacy_loss(self) -> Any:
        """What OpenDP's privacy map says one event costs: epsilon, or (epsilon, delta)."""
        return self.measurement.map(1)


def build_measurement(query: DpQuery) -> DpMeasurement:
    """The measurement `query` asks for, its noise scale found by OpenDP's binary search: the
    smallest scale whose privacy map, at one event, is within the query's cost. Raises
    DpInputError when OpenDP cannot calibrate one (an epsilon so large that its privacy map
    overflows)."""
    try:
        return _calibrated(query)
    except (dp.OpenDPException, ValueError) as exc:
        raise DpInputError(
            f"OpenDP cannot calibrate {query.mechanism.value} noise for epsilon "
            f"{query.cost.epsilon}, delta {query.cost.delta}: {_last_line(exc)}"
        ) from exc


def _last_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _calibrated(query: DpQuery) -> DpMeasurement:
    transformation, clamp = _transformation(query)
    sensitivity = int(transformation.map(1))
    epsilon = _float_at_most(query.cost.epsilon)
    if query.mechanism is Mechanism.LAPLACE:

        def laplace(scale: float) -> Any:
            return transformation >> dp.m.then_laplace(scale=scale)

        nominal = sensitivity / epsilon
        scale = dp.binary_search_param(
            laplace, d_in=1, d_out=epsilon, bounds=(nominal / 2, nominal * 2)
        )
        return DpMeasurement(query, laplace(scale), scale, sensitivity, clamp)
    delta = _float_at_most(query.cost.delta)

    def gaussian(scale: float) -> Any:
        zcdp = transformation >> dp.m.then_gaussian(scale=scale)
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(zcdp), delta)

    # rho = sensitivity^2 / (2 scale^2) <= epsilon is necessary (the conversion gives an
    # epsilon of at least rho), so no scale below this one can pass.
    smallest = sensitivity / math.sqrt(2 * epsilon)
    scale = dp.binary_search_param(
        gaussian, d_in=1, d_out=(epsilon, delta), bounds=(smallest, smallest * _SEARCH_WIDTH)
    )
    return DpMeasurement(query, gaussian(scale), scale, sensitivity, clamp)


def _transformation(query: DpQuery) -> tuple[Any, str]:
    """The stable transformation from one item per event to the integer answer, and the clamp
    that bounds one event's contribution, as the output states it."""
    output_metric = (
        dp.L1Distance[dp.i64] if query.mechanism is Mechanism.LAPLACE else dp.L2Distance[dp.i64]
    )
    if query.kind is DpQueryKind.SUM:
        assert query.bounds is not None  # parse_query: a sum has its bounds
        bounds = query.bounds
        space = (dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.symmetric_distance())
        clamped = space >> dp.t.then_clamp((bounds.lower, bounds.upper))
        summed = clamped >> dp.t.then_sum()  # type: ignore[no-untyped-call]
        return summed, (
            f"each event's payload field {bounds.field!r} clamped to "
            f"[{bounds.lower}, {bounds.upper}] (rounded to an integer; events without a "
            "numeric value contribute nothing)"
        )
    counts = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=str)),
        dp.symmetric_distance(),
        categories=list(query.categories),
        null_category=False,
        MO=output_metric,
        TOA=dp.i64,
    )
    cell = "event type" if query.kind is DpQueryKind.COUNTS_BY_TYPE else "UTC day of occurred_at"
    return counts, f"each event counts once, in the cell of its {cell}; other events nowhere"


def _float_at_most(value: Decimal) -> float:
    """The largest float not above `value`, so a privacy map checked against it is within the
    exact decimal the budget is charged."""
    near = float(value)
    return math.nextafter(near, -math.inf) if Decimal(near) > value else near
