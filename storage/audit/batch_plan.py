"""Which enriched segments the next batch appends, in which order: the log's only ordering rule.

Each stream is appended strictly in seq order: a stream's next segment is eligible only when it
starts right after the last seq already appended (1 for a new stream), so a missing segment
holds back its own stream and no other. Streams take turns, one segment each per round in
stream-name order, so a busy stream cannot starve a quiet one when the backlog exceeds a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest


@dataclass(frozen=True, slots=True)
class PendingSegment:
    """An enriched segment not yet appended: its stream, seqs (both included), records."""

    stream: str
    first_seq: int
    last_seq: int
    records: int


def plan_batch(
    pending: Sequence[PendingSegment], appended_through: Mapping[str, int], max_leaves: int
) -> list[PendingSegment]:
    """The segments to append, in append order, holding at most `max_leaves` leaves (or one
    segment, when the first alone holds more: a segment is never split).

    `pending` may be in any order; `appended_through[stream]` is the stream's last appended seq
    (absent: nothing appended yet). Requires max_leaves >= 1.
    """
    if max_leaves < 1:
        raise ValueError(f"expected max_leaves >= 1, got {max_leaves}")
    by_stream: dict[str, list[PendingSegment]] = {}
    for segment in sorted(pending, key=lambda s: (s.stream, s.first_seq)):
        by_stream.setdefault(segment.stream, []).append(segment)
    runs = [
        _gap_free_run(segments, appended_through.get(stream, 0))
        for stream, segments in sorted(by_stream.items())
    ]
    chosen: list[PendingSegment] = []
    leaves = 0
    for round_ in zip_longest(*runs):
        for segment in round_:
            if segment is None:
                continue
            if chosen and leaves + segment.records > max_leaves:
                return chosen
            chosen.append(segment)
            leaves += segment.records
    return chosen


def _gap_free_run(segments: list[PendingSegment], last_appended: int) -> list[PendingSegment]:
    run: list[PendingSegment] = []
    expected = last_appended + 1
    for segment in segments:
        if segment.first_seq != expected:
            break
        run.append(segment)
        expected = segment.last_seq + 1
    return run
