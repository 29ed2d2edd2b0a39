"""The migration files shipped in storage/dedup/migrations and the rules for their names."""

from __future__ import annotations

import pytest

from storage.dedup import MigrationError, load_migrations
from storage.dedup.migrate import parse_file_name


def test_versions_are_unique_increasing_and_split_by_target() -> None:
    every = load_migrations()
    assert [m.version for m in every] == sorted({m.version for m in every})
    assert [m.file_name for m in load_migrations("control")] == [
        "0001_control_routing.sql",
        "0002_control_tenant_keys.sql",
        "0005_control_tier_policies.sql",
        "0008_control_tier_dictionaries.sql",
        "0009_control_audit_log.sql",
        "0010_control_audit_witness.sql",
        "0011_control_audit_witness_forks.sql",
        "0012_control_migration_plans.sql",
        "0013_control_route_nodes.sql",
        "0014_control_retired_streams.sql",
        "0015_control_dp_budgets.sql",
    ]
    assert [m.file_name for m in load_migrations("shard")] == [
        "0003_shard_dedup.sql",
        "0004_shard_dedup_apply_function.sql",
        "0006_shard_body_tiers.sql",
        "0007_shard_retention_horizons.sql",
    ]


def test_each_table_of_the_design_is_created_by_its_target() -> None:
    control = "\n".join(m.sql for m in load_migrations("control"))
    shard = "\n".join(m.sql for m in load_migrations("shard"))
    for table in (
        "dedup_routing",
        "tenant_keys",
        "tier_policies",
        "tier_dictionaries",
        "tier_pack_dictionaries",
        "audit_segments",
        "audit_leaves",
        "audit_nodes",
        "audit_log",
        "audit_checkpoints",
        "audit_dlq",
        "audit_cosignatures",
        "audit_witness_health",
        "witness_checkpoints",
        "dedup_migration_plans",
        "dedup_route_nodes",
        "retired_streams",
        "dp_budgets",
        "dp_spends",
    ):
        assert f"CREATE TABLE {table}" in control and table not in shard
    for relation in ("TABLE dedup_events", "TABLE dedup_copies", "VIEW dedup_conflicts"):
        assert f"CREATE {relation}" in shard
    assert "CREATE TABLE applied_positions" in shard
    assert "CREATE TABLE retention_horizons" in shard


def test_checksums_are_sha256_of_the_text() -> None:
    [first, *_] = load_migrations()
    assert len(first.checksum) == 64 and first.checksum != load_migrations()[1].checksum


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("0001_control_routing.sql", (1, "control", "routing")),
        ("0042_shard_add_index_2.sql", (42, "shard", "add_index_2")),
    ],
)
def test_file_names_parse(name: str, expected: tuple[int, str, str]) -> None:
    assert parse_file_name(name) == expected


@pytest.mark.parametrize(
    "name",
    ["1_control_x.sql", "0001_both_x.sql", "0001_control_X.sql", "0001_control.sql", "0001.sql"],
)
def test_other_file_names_are_refused(name: str) -> None:
    with pytest.raises(MigrationError, match=f"got '{name}'"):
        parse_file_name(name)
