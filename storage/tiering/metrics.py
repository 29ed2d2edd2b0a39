"""Prometheus metrics of tiered storage (issue 11 item 8), each defined once here.

Tier labels are `hot`, `warm`, `cold` (`BodyTier.label`). `cold_driver_errors_total` counts
failures of the region's object store as a cold tier, by operation (`read`, ...) and a short
class of failure (`reason`: not_found, corrupt, unavailable, access_denied, ...).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from storage.objectstore.errors import AccessDenied, ObjectNotFound, Unavailable
from storage.tiering.errors import (
    BodyDecodeError,
    BodyIntegrityError,
    DictionaryIntegrityError,
    DictionaryNotFoundError,
)
from storage.tiering.pack_errors import PackCorrupt, PackNotFound

# A hot read is a column of a row already fetched; a cold one is a range GET on the region's
# store (target p99 <= 50 ms locally), a slow one or a retry reaches seconds.
_READ_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

TIER_READ_SECONDS = Histogram(
    "tier_read_seconds",
    "Time to produce a verified body from the tier it is in, by tier.",
    ["tier"],
    buckets=_READ_BUCKETS,
)
TIER_DEMOTIONS = Counter(
    "tier_demotions_total",
    "Bodies moved down a tier (hot -> warm, warm -> cold), counted once their rows point there.",
    ["from", "to"],
)
TIER_PROMOTIONS = Counter(
    "tier_promotions_total",
    "Bodies moved back to hot by a read (the tenant's promote_on_read), by the tier they left.",
    ["from"],
)
COLD_DRIVER_ERRORS = Counter(
    "cold_driver_errors_total",
    "Failed operations on the cold tier's object store, by operation and class of failure.",
    ["op", "reason"],
)


def cold_failure_reason(exc: Exception) -> str:
    """A short class of a cold-tier failure: the `reason` label of cold_driver_errors_total,
    the same for reads and for demotion's pack writes."""
    reasons: tuple[tuple[type[Exception], str], ...] = (
        (PackNotFound, "not_found"),
        (ObjectNotFound, "not_found"),
        (PackCorrupt, "corrupt"),
        (BodyDecodeError, "decode"),
        (BodyIntegrityError, "integrity"),
        (DictionaryNotFoundError, "dictionary"),
        (DictionaryIntegrityError, "dictionary"),
        (AccessDenied, "access_denied"),
        (Unavailable, "unavailable"),
    )
    for kind, reason in reasons:
        if isinstance(exc, kind):
            return reason
    return "store"
