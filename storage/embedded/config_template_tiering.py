"""The tiering sections of the embedded stack's `geoledger.toml` ([tiering], every [tier_*]),
rendered from the settings model's defaults like the rest of storage/embedded/config_template.py,
which places them."""

from __future__ import annotations

import json

from ledger.tier_config import (
    TierDemotionConfig,
    TierDictionaryConfig,
    TierReadConfig,
    TierRestoreConfig,
    TierStatusConfig,
)
from ledger.tier_policy import COLD_CLASSES, RESTORE_CLASSES, TierPolicy

_TIERING_TEMPLATE = """\
[tiering]
# Every tenant's default policy. A [tenants.<tenant>] section below overrides it field by field,
# and `geoledger tier policy set --tenant T` overrides both in every region's control database.
# TTLs count days since a record was accepted: its body is hot until hot_ttl_days, warm until
# warm_ttl_days (not shorter than hot_ttl_days), cold after.
hot_ttl_days = {tiering[hot_ttl_days]}
warm_ttl_days = {tiering[warm_ttl_days]}
# Records are deleted retention_days after acceptance; absent, they are kept forever.
# retention_days = 3650
# Warm and cold bodies as zstd frames (level 1-22), optionally with the tenant's dictionary.
compression = {tiering[compression]}
compression_level = {tiering[compression_level]}
dictionary = {tiering[dictionary]}
# The storage class of cold packs, per object store kind.
# S3: {s3_classes}.
# GCS: {gcs_classes}.
# {s3_restore} on S3 must be restored before a read.
cold_class_s3 = {tiering[cold_class_s3]}
cold_class_gcs = {tiering[cold_class_gcs]}
# A read served from warm or cold moves the body back to hot.
promote_on_read = {tiering[promote_on_read]}
# legal_hold stops every deletion while it is on; legal_hold_days is a minimum retention that
# retention_days may not undercut.
legal_hold = {tiering[legal_hold]}
# legal_hold_days = 2555

[tier_demotion]
# Read by the tiering workers when they start. A hot -> warm batch reads and moves batch_rows
# rows; a warm -> cold batch reads them batch_rows at a time into one pack of about
# pack_target_bytes (8-64 MiB), written and read back before any row points at it.
batch_rows = {tier_demotion.batch_rows!r}
pack_target_bytes = {tier_demotion.pack_target_bytes!r}
# Frozen into each demotion run's input when it starts; its `throttle` signal changes it in a
# running one. Body bytes moved per second; 0 moves as fast as the databases allow.
bytes_per_s = {tier_demotion.bytes_per_s!r}
# The largest body a warm or cold blob may decode to, and dictionaries kept in memory.
max_body_bytes = {tier_demotion.max_body_bytes!r}
dictionary_cache_size = {tier_demotion.dictionary_cache_size!r}

[tier_reads]
# Tenant dictionaries each ingest node (or `geoledger events get`) keeps in memory to read warm
# and cold bodies; the bound on a decoded body is [tier_demotion] max_body_bytes.
dictionary_cache_size = {tier_reads.dictionary_cache_size!r}

[tier_restore]
# A read of a cold body whose pack is archived (S3 GLACIER / DEEP_ARCHIVE) answers "restoring,
# retry after retry_after_s" (HTTP 202) while RestoreWorkflow restores the pack for `days` days,
# asking the store every poll_interval_s whether the copy is ready.
days = {tier_restore.days!r}
retry_after_s = {tier_restore.retry_after_s!r}
poll_interval_s = {tier_restore.poll_interval_s!r}

[tier_status]
# How often the ops worker samples tier_entries, tier_bytes, tier_compression_ratio and
# tier_demotion_lag_seconds of every region; each sample reads every key row once, never a body.
sample_interval_s = {tier_status.sample_interval_s!r}

[tier_status.prices]
# $/GiB-month of the monthly cost `geoledger tier status` estimates. EXAMPLES of the order of
# public list prices, not quotes: put your own. hot and warm are the shard databases' disks; cold
# packs cost what the tenant's cold class costs on the region's store (local: file:// stores).
hot = {tier_status.prices.hot!r}
warm = {tier_status.prices.warm!r}
local = {tier_status.prices.local!r}
s3 = {s3_prices}
gcs = {gcs_prices}

[tier_dictionaries]
# `geoledger tier train-dict` samples up to sample_bodies hot and warm bodies (sample_bytes in
# all) of a tenant in each region, refuses fewer than min_sample_bodies, keeps every
# holdout_every-th out of training to measure the dictionary, and trains up to dict_bytes.
sample_bodies = {tier_dictionaries.sample_bodies!r}
sample_bytes = {tier_dictionaries.sample_bytes!r}
min_sample_bodies = {tier_dictionaries.min_sample_bodies!r}
holdout_every = {tier_dictionaries.holdout_every!r}
dict_bytes = {tier_dictionaries.dict_bytes!r}
"""


def render_tiering_sections() -> str:
    """The tiering sections' text, each setting at its default."""
    return _TIERING_TEMPLATE.format(
        tiering=_toml_values(TierPolicy()),
        tier_demotion=TierDemotionConfig(),
        tier_reads=TierReadConfig(),
        tier_restore=TierRestoreConfig(),
        tier_status=TierStatusConfig(),
        tier_dictionaries=TierDictionaryConfig(),
        s3_prices=_inline_table(TierStatusConfig().prices.s3),
        gcs_prices=_inline_table(TierStatusConfig().prices.gcs),
        s3_classes=", ".join(COLD_CLASSES["s3"]),
        s3_restore=" and ".join(c for c in COLD_CLASSES["s3"] if c in RESTORE_CLASSES["s3"]),
        gcs_classes=", ".join(COLD_CLASSES["gcs"]),
    )


def _toml_values(policy: TierPolicy) -> dict[str, str]:
    """Each field of `policy` as a TOML value (JSON's booleans, numbers and plain strings are
    TOML's too); None fields are left out, as TOML has no null."""
    return {
        name: json.dumps(value) for name, value in policy.model_dump().items() if value is not None
    }


def _inline_table(values: dict[str, float]) -> str:
    """`values` as a TOML inline table, in their order."""
    return "{ " + ", ".join(f"{name} = {value!r}" for name, value in values.items()) + " }"
