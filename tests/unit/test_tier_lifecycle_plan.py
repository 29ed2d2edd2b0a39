"""Bucket lifecycle rules for cold packs: which rules a tenant's policy asks for on S3 and GCS,
the diff against what a bucket has (add / change / remove / keep, rules that are not ours kept),
and the reading of each provider's rules into the model (what is ours, what only ever stays)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.tier_policy import BackendKind, TierPolicy
from storage.objectstore.lifecycle import BucketRule, LifecycleRule
from storage.objectstore.lifecycle_gcs import bucket_rule as gcs_bucket_rule
from storage.objectstore.lifecycle_gcs import gcs_rule
from storage.objectstore.lifecycle_s3 import bucket_rule as s3_bucket_rule
from storage.objectstore.lifecycle_s3 import s3_rule
from storage.tiering.lifecycle_plan import Change, derive_rules, plan_lifecycle

PACKS = "ledger/tiering/packs/acme/"

DERIVED: list[tuple[str, BackendKind, dict[str, Any], list[LifecycleRule]]] = [
    ("defaults ask for nothing", "s3", {}, []),
    ("defaults ask for nothing", "gcs", {}, []),
    (
        "S3 class: at once",
        "s3",
        {"cold_class_s3": "GLACIER"},
        [LifecycleRule(PACKS, "transition", 0, "GLACIER")],
    ),
    (
        "S3 STANDARD_IA: after S3's 30 days",
        "s3",
        {"cold_class_s3": "STANDARD_IA"},
        [LifecycleRule(PACKS, "transition", 30, "STANDARD_IA")],
    ),
    ("the other kind's class is not this store's", "s3", {"cold_class_gcs": "ARCHIVE"}, []),
    (
        "GCS class: at once",
        "gcs",
        {"cold_class_gcs": "ARCHIVE"},
        [LifecycleRule(PACKS, "transition", 0, "ARCHIVE")],
    ),
    (
        "retention: delete packs that old",
        "gcs",
        {"retention_days": 400, "cold_class_gcs": "COLDLINE"},
        [
            LifecycleRule(PACKS, "delete", 400),
            LifecycleRule(PACKS, "transition", 0, "COLDLINE"),
        ],
    ),
    ("legal hold: no delete", "s3", {"retention_days": 400, "legal_hold": True}, []),
]


@pytest.mark.parametrize(
    ("case", "kind", "policy", "expected"), DERIVED, ids=[f"{d[1]}: {d[0]}" for d in DERIVED]
)
def test_rules_derived_from_a_policy(
    case: str, kind: BackendKind, policy: dict[str, Any], expected: list[LifecycleRule]
) -> None:
    assert derive_rules(kind, "ledger", {"acme": TierPolicy(**policy)}) == expected


def test_each_tenant_has_rules_under_its_own_prefix_and_no_store_prefix_means_none() -> None:
    policies = {
        "zeta": TierPolicy(retention_days=10),
        "acme": TierPolicy(cold_class_s3="DEEP_ARCHIVE"),
    }
    assert derive_rules("s3", "", policies) == [
        LifecycleRule("tiering/packs/acme/", "transition", 0, "DEEP_ARCHIVE"),
        LifecycleRule("tiering/packs/zeta/", "delete", 10),
    ]


GLACIER = LifecycleRule(PACKS, "transition", 0, "GLACIER")
DEEP = LifecycleRule(PACKS, "transition", 0, "DEEP_ARCHIVE")
DELETE_400 = LifecycleRule(PACKS, "delete", 400)
DELETE_500 = LifecycleRule(PACKS, "delete", 500)
OTHER_TENANT = LifecycleRule("ledger/tiering/packs/beta/", "delete", 30)
WAL_RULE = LifecycleRule("ledger/wal/", "delete", 30)
OTHER_STORE = LifecycleRule("other/tiering/packs/acme/", "delete", 30)


def ours(*rules: LifecycleRule) -> BucketRule:
    return BucketRule(raw={"id": repr(rules)}, prefix=rules[0].prefix, rules=rules, summary="x")


UNMODELLED = BucketRule(raw={"id": "tags"}, prefix=PACKS, rules=(), summary="tag filter")

DIFFS: list[tuple[str, list[BucketRule], list[LifecycleRule], list[tuple[Change, str]]]] = [
    ("empty bucket, nothing wanted", [], [], []),
    ("add", [], [GLACIER], [(Change.ADD, "transition")]),
    ("keep", [ours(GLACIER)], [GLACIER], [(Change.KEEP, "transition")]),
    ("change class", [ours(GLACIER)], [DEEP], [(Change.CHANGE, "transition")]),
    ("change age", [ours(DELETE_400)], [DELETE_500], [(Change.CHANGE, "delete")]),
    ("remove", [ours(GLACIER)], [], [(Change.REMOVE, "transition")]),
    ("remove another tenant's leftover", [ours(OTHER_TENANT)], [], [(Change.REMOVE, "delete")]),
    (
        "one provider rule with two actions",
        [ours(GLACIER, DELETE_400)],
        [GLACIER],
        [(Change.REMOVE, "delete"), (Change.KEEP, "transition")],
    ),
    (
        "a second copy goes",
        [ours(GLACIER), ours(GLACIER)],
        [GLACIER],
        [(Change.KEEP, "transition"), (Change.REMOVE, "transition")],
    ),
    (
        "not ours: shipped WAL, another store's prefix, a rule we cannot model",
        [ours(WAL_RULE), ours(OTHER_STORE), UNMODELLED],
        [],
        [(Change.NOT_OURS, "delete"), (Change.NOT_OURS, "delete"), (Change.NOT_OURS, "?")],
    ),
]


@pytest.mark.parametrize(("case", "bucket", "wanted", "expected"), DIFFS, ids=[d[0] for d in DIFFS])
def test_plan_is_the_diff_and_keeps_what_is_not_ours(
    case: str,
    bucket: list[BucketRule],
    wanted: list[LifecycleRule],
    expected: list[tuple[Change, str]],
) -> None:
    plan = plan_lifecycle(bucket, wanted, "ledger")
    assert [(entry.change, entry.action) for entry in plan.entries] == expected
    assert plan.has_changes == any(
        c in (Change.ADD, Change.CHANGE, Change.REMOVE) for c, _ in expected
    )
    assert list(plan.rules) == sorted(wanted)


def test_rules_that_are_not_ours_are_kept_as_read_in_the_buckets_order() -> None:
    bucket = [ours(WAL_RULE), ours(GLACIER), UNMODELLED, ours(OTHER_STORE)]
    assert plan_lifecycle(bucket, [], "ledger").kept == (bucket[0], bucket[2], bucket[3])


def test_two_wanted_rules_for_one_prefix_and_action_are_refused() -> None:
    with pytest.raises(ValueError, match="one rule per prefix and action"):
        plan_lifecycle([], [GLACIER, DEEP], "ledger")


@pytest.mark.parametrize("rule", [GLACIER, DELETE_400], ids=["transition", "delete"])
@pytest.mark.parametrize(
    ("write", "read"), [(s3_rule, s3_bucket_rule), (gcs_rule, gcs_bucket_rule)], ids=["s3", "gcs"]
)
def test_a_written_rule_reads_back_as_itself(rule: LifecycleRule, write: Any, read: Any) -> None:
    read_back = read(write(rule))
    assert (read_back.prefix, read_back.rules) == (rule.prefix, (rule,))


UNMODELLED_S3: list[dict[str, Any]] = [
    {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": PACKS}, "Expiration": {"Days": 1}},
    {
        "ID": "tags",
        "Status": "Enabled",
        "Filter": {"And": {"Prefix": PACKS, "Tags": [{"Key": "k", "Value": "v"}]}},
        "Expiration": {"Days": 1},
    },
    {"ID": "date", "Status": "Enabled", "Filter": {"Prefix": PACKS}, "Expiration": {"Date": "x"}},
    {
        "ID": "multipart",
        "Status": "Enabled",
        "Filter": {"Prefix": PACKS},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
    },
]
UNMODELLED_GCS: list[dict[str, Any]] = [
    {"action": {"type": "Delete"}, "condition": {"age": 1, "matchesPrefix": [PACKS, "x/"]}},
    {
        "action": {"type": "Delete"},
        "condition": {"age": 1, "matchesPrefix": [PACKS], "isLive": False},
    },
    {
        "action": {"type": "AbortIncompleteMultipartUpload"},
        "condition": {"age": 1, "matchesPrefix": [PACKS]},
    },
]


@pytest.mark.parametrize(
    ("read", "raw"),
    [(s3_bucket_rule, raw) for raw in UNMODELLED_S3]
    + [(gcs_bucket_rule, raw) for raw in UNMODELLED_GCS],
)
def test_a_rule_doing_more_than_the_model_says_is_only_kept(read: Any, raw: dict[str, Any]) -> None:
    rule = read(raw)
    assert rule.rules == ()
    assert rule.raw is raw
    assert [entry.change for entry in plan_lifecycle([rule], [], "ledger").entries] == [
        Change.NOT_OURS
    ]
