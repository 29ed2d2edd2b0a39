"""Tenant tiering policies: one clear message per broken rule, and the merge of the three layers
(defaults, the tenant's section of the file, the region's stored override)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.tier_policy import (
    COLD_CLASSES,
    POLICY_FIELDS,
    PolicySource,
    TierPolicy,
    TierPolicyError,
    TierPolicyOverride,
    build_override,
    build_policy,
    check_field_names,
    merge_policy,
    needs_restore,
)

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"hot_ttl_days": -1}, "hot_ttl_days: expected 0 or more days, got -1"),
    (
        {"hot_ttl_days": 30, "warm_ttl_days": 10},
        "warm_ttl_days (10) is shorter than hot_ttl_days (30)",
    ),
    ({"retention_days": 0}, "retention_days: expected 1 or more days, got 0"),
    ({"legal_hold_days": 0}, "legal_hold_days: expected 1 or more days, got 0"),
    (
        {"retention_days": 365, "legal_hold_days": 2555},
        "retention_days (365) is shorter than the tenant's legal hold (legal_hold_days 2555)",
    ),
    ({"compression_level": 0}, "compression_level: expected a zstd level 1-22, got 0"),
    ({"compression_level": 23}, "compression_level: expected a zstd level 1-22, got 23"),
    ({"dictionary": True}, "dictionary: a dictionary only applies to compressed bodies"),
    ({"cold_class_s3": "ARCHIVE"}, "cold_class_s3: unknown S3 storage class 'ARCHIVE'; known: "),
    ({"cold_class_gcs": "GLACIER"}, "cold_class_gcs: unknown GCS storage class 'GLACIER'"),
    ({"cold_class_s3": "glacier"}, "cold_class_s3: unknown S3 storage class 'glacier'"),
]


@pytest.mark.parametrize(("fields", "message"), INVALID)
def test_each_broken_rule_has_its_own_message(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(TierPolicyError) as caught:
        build_policy(fields)
    [problem] = caught.value.problems
    assert problem.startswith(message)


def test_every_broken_rule_is_listed_once() -> None:
    with pytest.raises(TierPolicyError) as caught:
        build_policy({"warm_ttl_days": 1, "dictionary": True, "cold_class_gcs": "X"})
    assert [p.split(":")[0].split(" ")[0] for p in caught.value.problems] == [
        "warm_ttl_days",
        "dictionary",
        "cold_class_gcs",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"hot_ttl_days": 0, "warm_ttl_days": 0},
        {"hot_ttl_days": 30, "warm_ttl_days": 30, "retention_days": 30},
        {"retention_days": 2555, "legal_hold_days": 2555},
        # An open-ended hold stops deletion whatever the retention: nothing to refuse.
        {"retention_days": 30, "legal_hold": True},
        {"compression": True, "dictionary": True, "compression_level": 22},
        {"cold_class_s3": "DEEP_ARCHIVE", "cold_class_gcs": "ARCHIVE"},
    ],
)
def test_valid_policies_build(fields: dict[str, Any]) -> None:
    assert build_policy(fields).model_dump(include=set(fields)) == fields


def test_only_glacier_and_deep_archive_need_a_restore() -> None:
    restored = {
        (k, c) for k, classes in COLD_CLASSES.items() for c in classes if needs_restore(k, c)
    }
    assert restored == {("s3", "GLACIER"), ("s3", "DEEP_ARCHIVE")}
    assert TierPolicy(cold_class_s3="GLACIER").cold_needs_restore("s3")
    assert not TierPolicy(cold_class_gcs="ARCHIVE").cold_needs_restore("gcs")


def test_each_field_comes_from_the_last_layer_that_sets_it() -> None:
    defaults = TierPolicy(hot_ttl_days=3, compression=True)
    config = TierPolicyOverride(hot_ttl_days=5, warm_ttl_days=30)
    override = TierPolicyOverride(warm_ttl_days=60, retention_days=None)

    policy, sources = merge_policy(defaults, config, override)

    assert (policy.hot_ttl_days, policy.warm_ttl_days, policy.compression) == (5, 60, True)
    assert policy.retention_days is None
    assert sources["hot_ttl_days"] == PolicySource.CONFIG
    assert sources["warm_ttl_days"] == sources["retention_days"] == PolicySource.OVERRIDE
    assert sources["compression"] == sources["legal_hold"] == PolicySource.DEFAULT
    assert set(sources) == set(POLICY_FIELDS)


def test_layers_valid_alone_can_merge_into_an_invalid_policy() -> None:
    with pytest.raises(TierPolicyError, match=r"warm_ttl_days \(30\) is shorter"):
        merge_policy(
            TierPolicy(), TierPolicyOverride(warm_ttl_days=30), TierPolicyOverride(hot_ttl_days=45)
        )


def test_an_override_holds_only_the_fields_given() -> None:
    assert build_override({"retention_days": None, "legal_hold": True}).fields() == {
        "retention_days": None,
        "legal_hold": True,
    }
    with pytest.raises(TierPolicyError) as caught:
        build_override({"hot_ttl": 1, "compression": "sometimes"})
    assert [p.split(":")[0] for p in caught.value.problems] == ["compression", "hot_ttl"]


def test_field_names_read_dashes_as_underscores_and_unknown_names_are_refused() -> None:
    assert check_field_names(["hot-ttl-days", "legal_hold"]) == ["hot_ttl_days", "legal_hold"]
    with pytest.raises(TierPolicyError, match="unknown policy field 'hot'"):
        check_field_names(["hot"])
