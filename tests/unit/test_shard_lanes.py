"""The per-shard apply lanes' bookkeeping (api/ingest/shard_lanes.py): seq order per shard, a
failing shard holding back only its own lane and position, the backlog bound, epoch holds.
The same lanes against real shard databases: tests/chaos/test_chaos_shard_kill.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from api.ingest.shard_lanes import LaneBatch, Settled, ShardLanes
from storage.dedup.models import ApplyResult, DedupRecord, Outcome
from storage.dedup.routing import Phase, Route

TENANT = "acme"
STABLE = Route(epoch=1, ring_size=2, phase=Phase.STABLE)
DUAL = Route(epoch=2, ring_size=2, next_ring_size=3, phase=Phase.DUAL_WRITE)


class Holds:
    """Epochs held, as DedupStore.in_flight counts them."""

    def __init__(self) -> None:
        self.held: Counter[int] = Counter()

    def hold(self, epoch: int) -> None:
        self.held[epoch] += 1

    def release(self, epoch: int) -> None:
        assert self.held[epoch] > 0, f"epoch {epoch} released more often than held"
        self.held[epoch] -= 1
        if not self.held[epoch]:
            del self.held[epoch]


def event_on(route: Route, shards: tuple[int, ...], skip: int = 0) -> str:
    """An event id `route` writes to exactly `shards` (read shard first); the `skip`-th such."""
    found = (f"e{n}" for n in range(10_000) if route.write_shards(TENANT, f"e{n}") == shards)
    for _ in range(skip):
        next(found)
    return next(found)


def record(event_id: str, seq: int) -> DedupRecord:
    return DedupRecord(TENANT, event_id, seq, "us", "n1", seq, bytes(32), b"{}", 0)


def results(batch: LaneBatch) -> list[ApplyResult]:
    """What the shard answers for the batch: each record its key's winner."""
    return [
        ApplyResult(r.tenant_id, r.event_id, Outcome.ACCEPTED, r.origin, r.hlc, r.digest)
        for r in batch.records
    ]


def apply(lanes: ShardLanes, shard: int) -> list[Settled]:
    batch = lanes.next_batch(shard)
    assert batch is not None, f"expected work in shard {shard}'s lane"
    return lanes.applied(shard, results(batch))


def seqs(batch: LaneBatch | None) -> list[int]:
    assert batch is not None
    return [r.seq for r in batch.records]


def answered(settled: Sequence[Settled]) -> dict[int, list[int]]:
    return {s.first_seq: [r.winner.seq for r in s.results or []] for s in settled if not s.error}


def failed(settled: Sequence[Settled]) -> list[int]:
    return [s.first_seq for s in settled if s.error is not None]


def test_groups_arriving_out_of_order_reach_each_lane_in_seq_order() -> None:
    lanes = ShardLanes(next_seq=1, max_backlog_bytes=100, holds=Holds())
    on0, on1 = event_on(STABLE, (0,)), event_on(STABLE, (1,))
    lanes.arrive(3, [record(event_on(STABLE, (0,), skip=1), 3)])
    assert lanes.dispatch(STABLE) == []
    # Nothing moves while seqs 1-2 are missing: a lane must not apply seq 3 before them.
    assert lanes.next_batch(0) is None and lanes.next_batch(1) is None
    lanes.arrive(1, [record(on0, 1), record(on1, 2)])
    assert lanes.dispatch(STABLE) == []
    batch0, batch1 = lanes.next_batch(0), lanes.next_batch(1)
    assert seqs(batch0) == [1, 3] and seqs(batch1) == [2]
    # Both shards record the position through the last dispatched seq, records or not.
    assert batch0 is not None and batch1 is not None
    assert batch0.through_seq == batch1.through_seq == 3
    assert answered(lanes.applied(1, results(batch1))) == {}
    assert answered(lanes.applied(0, results(batch0))) == {1: [1, 2], 3: [3]}


def test_a_failing_shard_holds_back_only_its_lane_and_its_position() -> None:
    lanes = ShardLanes(next_seq=1, max_backlog_bytes=100, holds=Holds())
    on0, on1 = event_on(STABLE, (0,)), event_on(STABLE, (1,))
    lanes.arrive(1, [record(on0, 1)])
    lanes.dispatch(STABLE)
    assert answered(apply(lanes, 0)) == {1: [1]}
    apply(lanes, 1)  # seq 1's position reaches shard 1 too
    lanes.arrive(2, [record(on1, 2)])
    lanes.arrive(3, [record(event_on(STABLE, (0,), skip=1), 3)])
    lanes.dispatch(STABLE)
    assert seqs(lanes.next_batch(1)) == [2]
    assert failed(lanes.failed(1, ConnectionError("shard 1 refused"))) == [2]
    assert answered(apply(lanes, 0)) == {3: [3]}
    # A group arriving while shard 1 fails is answered 503 at once if it writes there...
    lanes.arrive(4, [record(event_on(STABLE, (1,), skip=1), 4)])
    assert failed(lanes.dispatch(STABLE)) == [4]
    # ...and normally if it does not.
    lanes.arrive(5, [record(event_on(STABLE, (0,), skip=2), 5)])
    assert lanes.dispatch(STABLE) == []
    assert answered(apply(lanes, 0)) == {5: [5]}
    # Recovery starts from the lowest position: shard 1's stays before its unapplied seq 2.
    assert lanes.applied_through(0) == 5
    assert lanes.applied_through(1) == 1
    # The retry applies shard 1's records in order; their requests were answered already.
    batch = lanes.next_batch(1)
    assert seqs(batch) == [2, 4] and batch is not None and batch.through_seq == 5
    assert lanes.applied(1, results(batch)) == []
    assert lanes.applied_through(1) == 5 and lanes.total_backlog == 0


def test_a_dual_written_record_is_answered_once_both_shards_applied_it() -> None:
    lanes = ShardLanes(next_seq=1, max_backlog_bytes=100, holds=Holds())
    moving = event_on(DUAL, (0, 2))
    lanes.arrive(1, [record(moving, 1)])
    lanes.dispatch(DUAL)
    assert apply(lanes, 0) == []
    assert apply(lanes, 1) == []  # the position only
    assert answered(apply(lanes, 2)) == {1: [1]}


def test_a_dual_written_record_fails_when_either_shard_fails() -> None:
    lanes = ShardLanes(next_seq=1, max_backlog_bytes=100, holds=Holds())
    lanes.arrive(1, [record(event_on(DUAL, (0, 2)), 1)])
    lanes.dispatch(DUAL)
    assert apply(lanes, 0) == []
    lanes.next_batch(2)
    assert failed(lanes.failed(2, ConnectionError("shard 2 refused"))) == [1]


def test_a_full_lane_refuses_only_keys_written_to_its_shard() -> None:
    # Each record's signed event is 2 bytes ("{}"): the lane is full at two records.
    lanes = ShardLanes(next_seq=1, max_backlog_bytes=4, holds=Holds())
    stuck = [event_on(STABLE, (1,), skip=n) for n in range(3)]
    free = event_on(STABLE, (0,))
    lanes.arrive(1, [record(stuck[0], 1)])
    lanes.dispatch(STABLE)
    assert lanes.full_shards(STABLE, [(TENANT, stuck[2])]) == []
    lanes.arrive(2, [record(stuck[1], 2)])
    lanes.dispatch(STABLE)
    assert lanes.backlog(1) == 2
    assert lanes.full_shards(STABLE, [(TENANT, stuck[2]), (TENANT, free)]) == [1]
    assert lanes.full_shards(STABLE, [(TENANT, free)]) == []


def test_positions_merge_in_a_stuck_lane_and_every_epoch_is_held_until_applied() -> None:
    holds = Holds()
    lanes = ShardLanes(next_seq=1, max_backlog_bytes=100, holds=holds)
    lanes.arrive(1, [record(event_on(STABLE, (1,)), 1)])
    lanes.dispatch(STABLE)
    for seq in range(2, 50):
        lanes.arrive(seq, [record(event_on(STABLE, (0,), skip=seq), seq)])
        route = STABLE if seq < 40 else DUAL
        lanes.dispatch(route)
        apply(lanes, 0)
    # Shard 1 holds one item: its record of seq 1, its position raised to 49 by the groups that
    # skipped it, holding both epochs once; the re-sharding waits for it (epoch 1 is held).
    assert holds.held[STABLE.epoch] == 1
    batch = lanes.next_batch(1)
    assert seqs(batch) == [1] and batch is not None and batch.through_seq == 49
    lanes.applied(1, results(batch))
    apply(lanes, 2)
    assert not holds.held


def test_a_lane_that_fails_retries_the_same_batch() -> None:
    lanes = ShardLanes(next_seq=1, max_backlog_bytes=100, holds=Holds())
    lanes.arrive(1, [record(event_on(STABLE, (1,)), 1)])
    lanes.dispatch(STABLE)
    first = lanes.next_batch(1)
    assert first is not None
    assert lanes.next_batch(1) is None  # one batch of a lane at a time
    lanes.failed(1, ConnectionError("refused"))
    assert lanes.failing(1)
    assert lanes.next_batch(1) == first
    lanes.applied(1, results(first))
    assert not lanes.failing(1)
