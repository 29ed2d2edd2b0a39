"""A tenant's retention horizon: the hlc below which its records are expired.

The horizon is derived from the policy and the clock the expiry runs to, and from nothing else
(not the region, not the rows, not when the expiry happens to run): two regions applying the same
policy with the same `as_of_ms` reach the same value, and each only ever raises what it recorded,
so regions that expire at different times converge on the higher one.

It is an hlc (ledger/hlc.py: `physical_ms << 16 | logical`) with a zero counter, so "below the
horizon" means "accepted in a millisecond before the cut-off", which compares with a record's
hlc as a plain integer. The cut-off is `as_of_ms - days * 86400000`, the same day arithmetic as
the tier TTLs, over the longer of the retention and the legal minimum (`legal_hold_days`, a floor
even if a stored policy predates the rule that a retention covers it). A tenant without a
retention, or under a litigation hold (`legal_hold`), has no horizon to raise: nothing of it is
deleted while the hold is on, and lifting the hold lets the next expiry resume.
"""

from __future__ import annotations

from ledger.hlc import hlc_pack
from ledger.tier_policy import TierPolicy

DAY_MS = 86_400_000


def retention_horizon(policy: TierPolicy, as_of_ms: int) -> int | None:
    """The hlc below which the tenant's records are expired at `as_of_ms`, or None when the
    policy deletes nothing now (no retention, or a legal hold). A cut-off before the epoch is 0
    (nothing is below it)."""
    if policy.retention_days is None or policy.legal_hold:
        return None
    days = max(policy.retention_days, policy.legal_hold_days or 0)
    return hlc_pack(max(0, as_of_ms - days * DAY_MS))
