"""The monthly cost estimate of `geoledger tier status` and its price table."""

from __future__ import annotations

import pytest

from ledger.tier_policy import BackendKind, TierPolicy
from ledger.tier_prices import GIB, TierPrices, monthly_cost

PRICES = TierPrices(
    hot=0.5,
    warm=0.25,
    local=0.1,
    s3={"STANDARD": 0.02, "STANDARD_IA": 0.01, "INTELLIGENT_TIERING": 0.02, "GLACIER_IR": 0.004,
        "GLACIER": 0.003, "DEEP_ARCHIVE": 0.001},
    gcs={"STANDARD": 0.03, "NEARLINE": 0.015, "COLDLINE": 0.006, "ARCHIVE": 0.002},
)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "policy", "stored", "dollars"),
    [
        (None, TierPolicy(), {"hot": 2 * GIB}, 1.0),
        (None, TierPolicy(), {"hot": GIB, "warm": 2 * GIB, "cold": 10 * GIB}, 0.5 + 0.5 + 1.0),
        ("s3", TierPolicy(), {"cold": 100 * GIB}, 2.0),
        ("s3", TierPolicy(cold_class_s3="DEEP_ARCHIVE"), {"cold": 100 * GIB}, 0.1),
        ("gcs", TierPolicy(cold_class_gcs="COLDLINE"), {"warm": GIB // 2, "cold": GIB}, 0.131),
        ("gcs", TierPolicy(), {"hot": 0, "warm": 0, "cold": 0}, 0.0),
    ],
)
def test_monthly_cost(
    kind: BackendKind | None, policy: TierPolicy, stored: dict[str, int], dollars: float
) -> None:
    assert monthly_cost(PRICES, kind, policy, stored) == pytest.approx(dollars)


@pytest.mark.parametrize(
    ("gcs", "message"),
    [
        ({"STANDARD": 0.02}, "gcs: no price for NEARLINE, COLDLINE, ARCHIVE"),
        ({**PRICES.gcs, "GLACIER": 0.1}, "gcs: unknown classes GLACIER"),
        ({**PRICES.gcs, "ARCHIVE": -1.0}, "gcs: negative price for ARCHIVE"),
    ],
)
def test_every_class_has_one_valid_price(gcs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TierPrices(gcs=gcs)
