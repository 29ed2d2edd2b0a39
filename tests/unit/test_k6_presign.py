"""The k6 load's pre-signed batches (tests/perf/k6/presign.py): every event goes out fresh once,
in order, and each later batch repeats the batch before it by the asked share, so the node's
duplicate path gets its share of the load."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.perf.k6.presign import with_repeats


def events(count: int) -> list[dict[str, Any]]:
    return [{"event_id": f"e{i}"} for i in range(count)]


def ids(body: str) -> list[str]:
    return [event["event_id"] for event in json.loads(body)["events"]]


def test_every_event_is_sent_fresh_once_in_order_and_repeats_come_from_the_batch_before() -> None:
    batches = with_repeats(events(23), 5, 0.4)
    sent = [ids(batch.body) for batch in batches]
    assert sent[0] == ["e0", "e1", "e2", "e3", "e4"]
    fresh = [
        event for batch, body in zip(batches, sent, strict=True) for event in body[-batch.fresh :]
    ]
    assert fresh == [f"e{i}" for i in range(23)]
    for before, batch, body in zip(sent, batches[1:], sent[1:], strict=False):
        assert body[: batch.events - batch.fresh] == before[:2]
        assert batch.events == len(body)
    assert [batch.events - batch.fresh for batch in batches] == [0, *[2] * (len(batches) - 1)]


def test_no_repeats_when_the_share_is_zero() -> None:
    batches = with_repeats(events(10), 4, 0.0)
    assert [batch.fresh for batch in batches] == [4, 4, 2]
    assert all(batch.events == batch.fresh for batch in batches)


@pytest.mark.parametrize(("size", "share"), [(0, 0.1), (5, 1.0), (5, -0.1), (1, 0.6)])
def test_sizes_and_shares_out_of_range_are_refused(size: int, share: float) -> None:
    with pytest.raises(ValueError, match="repeat_share"):
        with_repeats(events(3), size, share)
