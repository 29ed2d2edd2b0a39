"""The re-sharding plan model: what jump hash lets a plan move, and the plan's stored form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from cli.durations import format_duration, parse_duration
from ledger.migration_plan import (
    CheckStatus,
    MigrationPlan,
    PlanCheck,
    PlanReport,
    ShardMove,
    estimated_copy_s,
    moving_shards,
    new_plan_id,
)
from ledger.ring import shard_of

KEYS = [("acme", f"evt-{i}") for i in range(20_000)]


@pytest.mark.parametrize(("from_ring", "to_ring"), [(1, 2), (2, 4), (3, 7), (4, 2), (5, 1)])
def test_jump_hash_moves_keys_only_from_sources_to_targets(from_ring: int, to_ring: int) -> None:
    sources, targets = moving_shards(from_ring, to_ring)
    moved = set()
    for tenant_id, event_id in KEYS:
        before = shard_of(tenant_id, event_id, from_ring)
        after = shard_of(tenant_id, event_id, to_ring)
        if before != after:
            moved.add((before, after))
    # Every source gives to every target on 20k keys; nothing moves between other shards.
    assert moved == {(s, t) for s in sources for t in targets}


def test_a_2_to_4_plan_moves_from_0_and_1_to_2_and_3_only() -> None:
    assert moving_shards(2, 4) == (range(0, 2), range(2, 4))
    with pytest.raises(ValidationError, match="got 0 -> 1"):
        plan(moves=(ShardMove(source=0, target=1, keys=1, bytes=1),))


def test_a_move_goes_to_another_shard_and_rings_differ() -> None:
    with pytest.raises(ValidationError, match="another shard"):
        ShardMove(source=2, target=2, keys=1, bytes=1)
    with pytest.raises(ValidationError, match="must differ"):
        plan(to_ring=2)


def test_a_stored_plan_round_trips_through_json() -> None:
    stored = plan(
        moves=(ShardMove(source=0, target=2, keys=3, bytes=30, copies=1),),
        checks=(PlanCheck(name="free_space", shard=2, status=CheckStatus.UNKNOWN, reason="r"),),
    )
    assert MigrationPlan.model_validate_json(stored.model_dump_json()) == stored
    assert (stored.total_keys, stored.total_bytes) == (3, 30)


def test_a_report_with_a_failed_check_is_not_a_plan() -> None:
    failed = PlanCheck(name="empty", shard=2, status=CheckStatus.FAILED, reason="foreign rows")
    report = PlanReport(
        region="us",
        from_ring=2,
        to_ring=4,
        routing_epoch=1,
        moves=(),
        checks=(failed,),
        rate_keys_per_s=10,
        estimated_copy_s=0,
    )
    assert report.failed == (failed,) and not report.unreachable
    with pytest.raises(AssertionError):
        report.to_plan("us-2to4-00000000", datetime.now(UTC))


def test_plan_ids_name_region_and_rings() -> None:
    plan_id = new_plan_id("us-east", 2, 4)
    assert plan_id.startswith("us-east-2to4-") and len(plan_id) == len("us-east-2to4-") + 8
    assert plan(id=plan_id).id == plan_id


def test_copy_time_rounds_up_and_prints_as_a_duration() -> None:
    assert estimated_copy_s(10_001, 1000) == 11
    assert format_duration(3_725) == "1h2m5s"
    assert parse_duration(format_duration(5_400)).total_seconds() == 5_400
    assert format_duration(0) == "0s"


def plan(**changes: object) -> MigrationPlan:
    fields: dict[str, object] = {
        "id": "us-2to4-0123abcd",
        "region": "us",
        "from_ring": 2,
        "to_ring": 4,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "routing_epoch": 1,
        "moves": (),
        "rate_keys_per_s": 5000.0,
        "estimated_copy_s": 0.0,
    }
    return MigrationPlan.model_validate({**fields, **changes})
