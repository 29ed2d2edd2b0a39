"""The noise of the real OpenDP measurements has the scale the mechanism needs for the epsilon
asked (ledger/dp_measure.py), and a scale off by 2x either way fails the same check.

Each check draws N = 20 000 noise values (200 releases of 100 empty cells, so every released
count is pure noise; cells are independent) and compares the share of draws with |noise| <= t
against its exact value under the discrete distribution of the expected scale. By Hoeffding's
inequality the share is off by more than TOLERANCE with probability at most
2 exp(-2 N TOLERANCE^2) = 1e-6 per check: that is the test's false-failure probability. A scale
2x too large or too small moves the share by more than 0.15, far beyond TOLERANCE.
"""

from __future__ import annotations

import math
from datetime import date

import pytest

from ledger.dp_measure import DpMeasurement, build_measurement
from ledger.dp_query import parse_query

CELLS = 100
RELEASES = 200
DRAWS = CELLS * RELEASES
FALSE_FAILURE = 1e-6
TOLERANCE = math.sqrt(math.log(2 / FALSE_FAILURE) / (2 * DRAWS))  # about 0.019


def measurement(mechanism: str, epsilon: str, delta: str = "0") -> DpMeasurement:
    return build_measurement(
        parse_query(
            tenant="acme",
            query="counts_by_type",
            mechanism=mechanism,
            epsilon=epsilon,
            delta=delta,
            types=tuple(f"t{i}" for i in range(CELLS)),
            since=date(2026, 1, 1),
            until=date(2026, 1, 1),
            bounds=(None, None, None),
        )
    )


def share_within(noise: list[int], t: int) -> float:
    return sum(1 for x in noise if abs(x) <= t) / len(noise)


def draws(m: DpMeasurement) -> list[int]:
    return [x for _ in range(RELEASES) for x in m.release([])]


def discrete_laplace_within(scale: float, t: int) -> float:
    """P(|X| <= t) for P(X = k) proportional to exp(-|k| / scale)."""
    p = math.exp(-1 / scale)
    return 1 - 2 * p ** (t + 1) / (1 + p)


def discrete_gaussian_within(scale: float, t: int) -> float:
    """P(|X| <= t) for P(X = k) proportional to exp(-k^2 / (2 scale^2))."""
    reach = int(40 * scale) + 1
    weights = {k: math.exp(-(k * k) / (2 * scale * scale)) for k in range(-reach, reach + 1)}
    return sum(w for k, w in weights.items() if abs(k) <= t) / sum(weights.values())


@pytest.mark.parametrize("epsilon", ["0.5", "2"])
def test_laplace_noise_has_scale_sensitivity_over_epsilon(epsilon: str) -> None:
    m = measurement("laplace", epsilon)
    expected = 1 / float(epsilon)  # a count vector's L1 sensitivity is 1 (one event, one cell)
    assert m.sensitivity == 1 and m.scale == pytest.approx(expected, rel=1e-9)
    t = round(expected)  # 2 for epsilon 0.5; 0 (the zero cell) for epsilon 2
    share = share_within(draws(m), t)
    assert abs(share - discrete_laplace_within(expected, t)) <= TOLERANCE
    for broken in (expected * 2, expected / 2):  # what a wrong scale would have given
        assert abs(share - discrete_laplace_within(broken, t)) > TOLERANCE


def test_gaussian_noise_has_the_scale_whose_zcdp_converts_to_epsilon_delta() -> None:
    epsilon, delta = 1.0, 1e-6
    m = measurement("gaussian", str(epsilon), str(delta))
    rho = m.sensitivity**2 / (2 * m.scale**2)
    # The conversion's epsilon is at least rho and at most rho + 2 sqrt(rho ln(1/delta))
    # (Bun & Steinke 2016, Proposition 1.3): OpenDP's tighter one lies between.
    assert rho <= epsilon <= rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert m.privacy_loss()[0] <= epsilon and m.privacy_loss()[1] <= delta
    t = round(m.scale)
    share = share_within(draws(m), t)
    assert abs(share - discrete_gaussian_within(m.scale, t)) <= TOLERANCE
    for broken in (m.scale * 2, m.scale / 2):
        assert abs(share - discrete_gaussian_within(broken, t)) > TOLERANCE


def test_error_bars_cover_the_noise_at_their_confidence() -> None:
    m = measurement("laplace", "0.5")
    bound = m.error_bound(0.95)
    share = share_within(draws(m), bound)
    assert share >= 0.95 - TOLERANCE
