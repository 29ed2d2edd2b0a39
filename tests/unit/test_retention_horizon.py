"""The retention horizon depends only on the policy and the clock it is taken at."""

from __future__ import annotations

from ledger.hlc import hlc_pack, hlc_physical_ms
from ledger.retention import DAY_MS, retention_horizon
from ledger.tier_policy import TierPolicy

AS_OF_MS = 1_800_000_000_000


def test_the_horizon_is_the_cut_off_millisecond_as_an_hlc() -> None:
    horizon = retention_horizon(TierPolicy(retention_days=30), AS_OF_MS)
    assert horizon == hlc_pack(AS_OF_MS - 30 * DAY_MS)
    # A record accepted in the cut-off millisecond is kept; one a millisecond earlier is not.
    assert hlc_pack(AS_OF_MS - 30 * DAY_MS, 0) >= horizon
    assert hlc_pack(AS_OF_MS - 30 * DAY_MS - 1, 0xFFFF) < horizon
    assert hlc_physical_ms(horizon) == AS_OF_MS - 30 * DAY_MS


def test_no_retention_or_a_legal_hold_gives_no_horizon() -> None:
    assert retention_horizon(TierPolicy(), AS_OF_MS) is None
    held = TierPolicy(retention_days=30, legal_hold=True)
    assert retention_horizon(held, AS_OF_MS) is None


def test_a_cut_off_before_the_epoch_expires_nothing() -> None:
    assert retention_horizon(TierPolicy(retention_days=30), 1000) == 0
