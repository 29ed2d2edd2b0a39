"""Settings of bounded load on the ingest nodes: `[limits]` and `[limits.tenants.<tenant>]`.

Each tenant has two token buckets on every node: one counts events (`POST /v1/events`, every
event of a batch), one counts reads (`GET /v1/events/...`, one per request). A bucket refills at
its rate per second up to its burst; a request that would take more than it holds is answered
429 with Retry-After, whole. Each node also lets at most `max_in_flight` requests be verified and
applied at once; the next one is answered 429 before its body is read. The defaults are generous:
they bound a flood, not ordinary traffic, so nothing the demo or the tests send is throttled.

A tenant's override is its own section under `[limits.tenants]` rather than a field of
`[tenants.<tenant>]`: that section is the tenant's tiering policy (merged with `[tiering]`), and an
override may name a tenant that has no tiering policy of its own. Fields an override leaves out
are the `[limits]` defaults. Buckets are per node: a region of n nodes behind a load balancer lets
a tenant through at up to n times its rate.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.envelope import check_tenant_id

# The most events one POST /v1/events may carry (api/ingest/batch.py MAX_EVENTS; a unit test ties
# the two): a burst below it would refuse a well-formed batch forever, whatever Retry-After said.
LARGEST_BATCH_EVENTS = 1000


class TenantLimits(BaseModel):
    """One tenant's token buckets: events and reads, each a rate per second and a burst."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events_per_s: float = Field(default=50_000.0, gt=0)
    events_burst: int = Field(default=100_000, ge=LARGEST_BATCH_EVENTS)
    reads_per_s: float = Field(default=5_000.0, gt=0)
    reads_burst: int = Field(default=10_000, ge=1)


class TenantLimitsOverride(BaseModel):
    """[limits.tenants.<tenant>]: the fields given replace the [limits] defaults for that tenant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events_per_s: float | None = Field(default=None, gt=0)
    events_burst: int | None = Field(default=None, ge=LARGEST_BATCH_EVENTS)
    reads_per_s: float | None = Field(default=None, gt=0)
    reads_burst: int | None = Field(default=None, ge=1)


class LimitsConfig(TenantLimits):
    """[limits]: every tenant's default buckets, the per-node in-flight budget, and the overrides.
    Read by each ingest node when it starts."""

    max_in_flight: int = Field(default=1_024, ge=1)
    # Retry-After of a request refused for the in-flight budget: requests finish in milliseconds.
    in_flight_retry_after_s: int = Field(default=1, ge=1, le=60)
    tenants: dict[str, TenantLimitsOverride] = Field(default_factory=dict)

    @field_validator("tenants")
    @classmethod
    def _overrides_name_tenants(
        cls, tenants: dict[str, TenantLimitsOverride]
    ) -> dict[str, TenantLimitsOverride]:
        for tenant in tenants:
            try:
                check_tenant_id(tenant)
            except ValueError as exc:
                raise ValueError(f"limits.tenants.{tenant}: {exc}") from exc
        return tenants

    def for_tenant(self, tenant: str) -> TenantLimits:
        """The buckets of `tenant`: its override's fields over the defaults."""
        defaults = TenantLimits.model_validate(self.model_dump(include=_TENANT_FIELDS))
        override = self.tenants.get(tenant)
        if override is None:
            return defaults
        return defaults.model_copy(update=override.model_dump(exclude_none=True))


_TENANT_FIELDS = set(TenantLimits.model_fields)
