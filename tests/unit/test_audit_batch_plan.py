"""The order the log appends enriched segments in (storage/audit/batch_plan.py): per stream in
seq order up to its first gap, streams taking turns, whole segments up to the batch's size."""

from __future__ import annotations

import pytest

from storage.audit.batch_plan import PendingSegment, plan_batch


def seg(stream: str, first: int, last: int) -> PendingSegment:
    return PendingSegment(stream, first, last, last - first + 1)


def test_streams_take_turns_in_name_order_each_in_seq_order() -> None:
    pending = [seg("us/b", 4, 6), seg("us/a", 11, 20), seg("us/b", 1, 3), seg("us/a", 1, 10)]
    assert plan_batch(pending, {}, 100) == [
        seg("us/a", 1, 10),
        seg("us/b", 1, 3),
        seg("us/a", 11, 20),
        seg("us/b", 4, 6),
    ]


def test_a_gap_stops_its_stream_and_no_other() -> None:
    pending = [seg("us/a", 1, 3), seg("us/a", 7, 9), seg("us/b", 5, 6), seg("us/c", 2, 2)]
    assert plan_batch(pending, {"us/b": 4}, 100) == [seg("us/a", 1, 3), seg("us/b", 5, 6)]


def test_a_batch_takes_whole_segments_up_to_its_size_and_one_oversized_alone() -> None:
    pending = [seg("us/a", 1, 10), seg("us/a", 11, 20), seg("us/b", 1, 50)]
    assert plan_batch(pending, {}, 15) == [seg("us/a", 1, 10)]
    assert plan_batch(pending, {}, 5) == [seg("us/a", 1, 10)]
    assert plan_batch(pending, {}, 60) == [seg("us/a", 1, 10), seg("us/b", 1, 50)]
    with pytest.raises(ValueError, match="max_leaves >= 1"):
        plan_batch(pending, {}, 0)
