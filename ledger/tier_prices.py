"""The price table of `geoledger tier status`'s monthly cost estimate: dollars per GiB-month of
stored bytes, per tier, and for cold per object store kind and storage class.

The defaults are examples in the order of magnitude of public list prices (us-east-1 / US
multi-region, 2024), not quotes: set `[tier_status.prices]` to what your contracts say. Hot and
warm bodies live in the shard databases, so their price is that of the database's disks (block
storage plus its replica); cold bodies are pack objects in the region's store, priced by the
tenant's cold class. Request, retrieval and egress fees are not estimated.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger.tier_policy import COLD_CLASSES, BackendKind, TierPolicy

GIB = 1024**3

_EXAMPLE_S3 = {
    "STANDARD": 0.023,
    "STANDARD_IA": 0.0125,
    "INTELLIGENT_TIERING": 0.023,
    "GLACIER_IR": 0.004,
    "GLACIER": 0.0036,
    "DEEP_ARCHIVE": 0.00099,
}
_EXAMPLE_GCS = {"STANDARD": 0.026, "NEARLINE": 0.015, "COLDLINE": 0.007, "ARCHIVE": 0.0025}


class TierPrices(BaseModel):
    """$/GiB-month per tier; `s3` and `gcs` price each cold class of that store kind, `local`
    the cold packs of a `file://` store (development)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hot: float = Field(default=0.2, ge=0)
    warm: float = Field(default=0.2, ge=0)
    s3: dict[str, float] = Field(default_factory=lambda: dict(_EXAMPLE_S3))
    gcs: dict[str, float] = Field(default_factory=lambda: dict(_EXAMPLE_GCS))
    local: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _every_class_priced(self) -> TierPrices:
        # A class without a price would make an estimate silently low; an unknown one is a typo.
        problems = []
        by_kind: tuple[tuple[BackendKind, dict[str, float]], ...] = (
            ("s3", self.s3),
            ("gcs", self.gcs),
        )
        for kind, prices in by_kind:
            known = COLD_CLASSES[kind]
            missing = [c for c in known if c not in prices]
            unknown = [c for c in prices if c not in known]
            negative = [c for c, price in prices.items() if price < 0]
            if missing:
                problems.append(f"{kind}: no price for {', '.join(missing)}")
            if unknown:
                problems.append(f"{kind}: unknown classes {', '.join(unknown)}")
            if negative:
                problems.append(f"{kind}: negative price for {', '.join(negative)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def cold(self, kind: BackendKind | None, policy: TierPolicy) -> float:
        """The price of the tenant's cold packs on a store of `kind` (None: a `file://` store):
        the class its policy writes packs in, which lifecycle rules move older packs to."""
        if kind is None:
            return self.local
        return (self.s3 if kind == "s3" else self.gcs)[policy.cold_class(kind)]


def monthly_cost(
    prices: TierPrices,
    kind: BackendKind | None,
    policy: TierPolicy,
    stored_bytes: Mapping[str, int],
) -> float:
    """Dollars a month for `stored_bytes` by tier (`hot`, `warm`, `cold`; a missing tier holds
    nothing) of one tenant in one region."""
    per_gib = {"hot": prices.hot, "warm": prices.warm, "cold": prices.cold(kind, policy)}
    return sum(per_gib[tier] * stored / GIB for tier, stored in stored_bytes.items())
