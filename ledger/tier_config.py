"""Settings of tiering's workers and readers: `[tier_demotion]`, `[tier_reads]`,
`[tier_dictionaries]`, `[tier_restore]`, `[tier_status]`, and a tenant's `[tenants.<tenant>]`
section (whose policy fields override `[tiering]`, ledger/tier_policy.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ledger.tier_policy import TierPolicyOverride
from ledger.tier_prices import TierPrices


class _Section(BaseModel):
    """Unknown keys are errors: a typo in a config file must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TierDemotionConfig(_Section):
    """How demotion moves bodies down the tiers (workflows/demotion.py). Not part of a tenant's
    policy (ledger/tier_policy.py): these are the worker's costs, the same for every tenant. Read
    by the tiering workers when they start, except `bytes_per_s`, frozen into each demotion run's
    input (changed while it runs by its `throttle` signal)."""

    # Rows a batch reads at a time; a hot -> warm batch is one such page, one UPDATE.
    batch_rows: int = Field(default=500, ge=1, le=100_000)
    # A cold pack closes at the first body that brings it to this size: the 8-64 MiB.
    pack_target_bytes: int = Field(default=32 * 1024 * 1024, ge=8 * 1024 * 1024, le=64 * 1024**2)
    # Body bytes moved per second across batches (a pause between batches); 0: no throttle.
    bytes_per_s: int = Field(default=32 * 1024 * 1024, ge=0)
    # The largest body a warm or cold blob may decode to: the ingest API's request limit.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Tenants' zstd dictionaries a worker keeps in memory.
    dictionary_cache_size: int = Field(default=16, ge=1, le=1024)


class TierReadConfig(_Section):
    """Reads of bodies demoted to warm or cold by ingest nodes and the CLI
    (storage/tiering/reader.py); the bound on a decoded body is `[tier_demotion]`'s
    max_body_bytes, one value for every reader and writer of lower tiers."""

    # Tenants' dictionaries kept in memory by each reading process.
    dictionary_cache_size: int = Field(default=64, ge=1, le=100_000)


class TierDictionaryConfig(_Section):
    """How `geoledger tier train-dict` samples a tenant's bodies in a region and trains its
    dictionary (storage/tiering/dictionary_sample.py, dictionary_training.py)."""

    # The sample: at most this many hot and warm bodies, of at most this many bytes in all.
    sample_bodies: int = Field(default=2000, ge=10, le=1_000_000)
    sample_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=1024**3)
    # Fewer bodies than this is refused: a dictionary trained from them would fit them only.
    min_sample_bodies: int = Field(default=100, ge=10)
    # Every holdout_every-th body is kept out of training to measure the dictionary on.
    holdout_every: int = Field(default=5, ge=2, le=100)
    # The largest dictionary trained (zstd's default is 110 KiB; small records need less).
    dict_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)


class TierRestoreConfig(_Section):
    """Reads of cold bodies whose pack is in an archive class (S3 GLACIER / DEEP_ARCHIVE) and
    the RestoreWorkflow that makes them readable (workflows/restore.py)."""

    # How long a restored copy stays readable before the object is archive-only again.
    days: int = Field(default=7, ge=1, le=365)
    # What a read of an archived body answers (HTTP Retry-After, `events get`): an estimate of
    # the restore, 3-5 hours for GLACIER standard retrievals, up to 12 for DEEP_ARCHIVE.
    retry_after_s: int = Field(default=14_400, ge=1, le=7 * 86_400)
    # How often the RestoreWorkflow asks the store whether the copy is ready.
    poll_interval_s: float = Field(default=60.0, ge=0.1, le=86_400)


class TierStatusConfig(_Section):
    """What `geoledger tier status` and the tier gauges (storage/tiering/gauges.py) need."""

    # How often the ops worker counts each region's bodies by tenant and tier for tier_entries,
    # tier_bytes, tier_compression_ratio and tier_demotion_lag_seconds. Each sample reads every
    # key row of the region once (no body is read), so keep it at minutes on large stores.
    sample_interval_s: float = Field(default=60.0, ge=1, le=86_400)
    # Example $/GiB-month of the cost estimate (ledger/tier_prices.py), not quotes.
    prices: TierPrices = TierPrices()


class TenantPolicy(TierPolicyOverride):
    """A tenant's section `[tenants.<tenant>]`: the tiering policy fields it sets override
    `[tiering]` for that tenant (ledger/tier_policy.py); the control database can override them
    again per region (`geoledger tier policy set`)."""
