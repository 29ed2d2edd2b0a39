"""The per-shard apply lanes of one WAL stream: bookkeeping only, no I/O (api/ingest/applier.py
runs it against the dedup store).

Groups of records (one group commit each) reach the node's applier in any order. `ShardLanes`
takes them in seq order (`arrive`, then `dispatch` with the route in force) and splits each across
the shards the route writes: every shard has its own lane, a queue of items in seq order of which
one batch at a time is applied (`next_batch`, then `applied` or `failed`). A shard that refuses
holds back only its own lane: the other lanes keep applying, and a group is answered once every
lane holding one of its records has applied it (a dual-written record is in two lanes), or failed
as soon as one of them fails.

Each lane's batch records, in the same transaction, that the stream is applied through the seq of
its last item there. Items enter a lane in seq order and each lane applies them in that order, so
a shard's position only ever covers a gap-free prefix of the records routed to it: a crash leaves
no unapplied record behind a recorded position, and recovery re-applies from the lowest shard's.
A group writes a position-only item to every written shard its records skip (the watermark is the
minimum over shards); consecutive ones merge, so a stuck lane grows only with records.

Every item holds the epoch of the route it was routed by in the store's in-flight count
(storage/dedup/route_watch.py) until its lane has applied it: the route watcher acknowledges a
newer epoch, and a re-sharding moves on, only once no record routed by an older one is still
waiting for its shard.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from storage.dedup.models import ApplyResult, DedupRecord
from storage.dedup.routing import Route

MAX_MERGED_RECORDS = 5000


class EpochHolds(Protocol):
    """Counts routed-but-unwritten records per routing epoch (DedupStore.in_flight)."""

    def hold(self, epoch: int) -> None: ...

    def release(self, epoch: int) -> None: ...


@dataclass(frozen=True, slots=True)
class LaneBatch:
    """Consecutive items of one lane, applied in one transaction with the position
    `through_seq`."""

    shard: int
    records: list[DedupRecord]
    through_seq: int


@dataclass(frozen=True, slots=True)
class Settled:
    """A group (by its first seq) answered with one result per record, or failed with `error`."""

    first_seq: int
    results: list[ApplyResult] | None = None
    error: Exception | None = None


@dataclass(slots=True)
class _Item:
    through_seq: int
    epochs: set[int]
    group: int | None = None
    records: list[DedupRecord] = field(default_factory=list)
    # Per record, its index in the group when this shard answers for it (its read shard).
    answers: list[int | None] = field(default_factory=list)


@dataclass(slots=True)
class _Group:
    results: list[ApplyResult | None]
    lanes_left: int
    settled: bool = False


@dataclass(slots=True)
class _Lane:
    items: deque[_Item] = field(default_factory=deque)
    in_flight: int = 0
    backlog: int = 0
    backlog_bytes: int = 0
    applied_through: int = 0
    failure: Exception | None = None


class ShardLanes:
    """The lanes of one stream whose next record to dispatch is `next_seq`; a lane holding
    records of `max_backlog_bytes` or more (their signed events) is full (`full_shards`)."""

    def __init__(self, next_seq: int, max_backlog_bytes: int, holds: EpochHolds) -> None:
        if max_backlog_bytes < 1:
            raise ValueError(f"max_backlog_bytes: expected at least 1, got {max_backlog_bytes}")
        self._next_seq = next_seq
        self._max_backlog_bytes = max_backlog_bytes
        self._holds = holds
        self._arrived: dict[int, Sequence[DedupRecord]] = {}
        self._groups: dict[int, _Group] = {}
        self._lanes: dict[int, _Lane] = {}

    def arrive(self, first_seq: int, records: Sequence[DedupRecord]) -> None:
        """Take the group whose records carry seqs `first_seq…`; `dispatch` routes it once every
        group before it has arrived."""
        if not records:
            raise ValueError("expected a group of at least one record")
        self._arrived[first_seq] = records
        self._groups[first_seq] = _Group([None] * len(records), lanes_left=0)

    def dispatch(self, route: Route) -> list[Settled]:
        """Route every group that is next in seq order into its lanes by `route`, holding its
        epoch; return the groups that failed at once (a lane of theirs is failing)."""
        settled: list[Settled] = []
        while self._next_seq in self._arrived:
            first = self._next_seq
            records = self._arrived.pop(first)
            self._next_seq += len(records)
            failure = self._route_group(route, first, records)
            if failure is not None:
                self._groups[first].settled = True
                settled.append(Settled(first, error=failure))
        return settled

    def _route_group(
        self, route: Route, first: int, records: Sequence[DedupRecord]
    ) -> Exception | None:
        through = first + len(records) - 1
        items = {
            shard: _Item(through, {route.epoch}, group=first) for shard in route.written_shards
        }
        for index, record in enumerate(records):
            for rank, shard in enumerate(route.write_shards(record.tenant_id, record.event_id)):
                item = items.setdefault(shard, _Item(through, {route.epoch}, group=first))
                item.records.append(record)
                item.answers.append(index if rank == 0 else None)
        failure = None
        for shard, item in items.items():
            lane = self._lanes.setdefault(shard, _Lane())
            if not item.records:
                self._enqueue_position(lane, item)
                continue
            self._groups[first].lanes_left += 1
            self._holds.hold(route.epoch)
            lane.items.append(item)
            lane.backlog += len(item.records)
            lane.backlog_bytes += sum(len(record.event) for record in item.records)
            failure = failure or lane.failure
        return failure

    def _enqueue_position(self, lane: _Lane, item: _Item) -> None:
        """A position-only item merges into the lane's last item unless that one is being
        applied: a stuck lane keeps one position however many groups skip it."""
        (epoch,) = item.epochs
        if len(lane.items) > lane.in_flight:
            tail = lane.items[-1]
            tail.through_seq = item.through_seq
            if epoch in tail.epochs:
                return
            tail.epochs.add(epoch)
        else:
            item.group = None
            lane.items.append(item)
        self._holds.hold(epoch)

    def next_batch(self, shard: int) -> LaneBatch | None:
        """The lane's next run of items to apply (up to MAX_MERGED_RECORDS records, at least one
        item), or None when it has none or a batch is being applied already."""
        lane = self._lanes.get(shard)
        if lane is None or lane.in_flight or not lane.items:
            return None
        records: list[DedupRecord] = []
        for item in lane.items:
            if lane.in_flight and len(records) + len(item.records) > MAX_MERGED_RECORDS:
                break
            records.extend(item.records)
            lane.in_flight += 1
        return LaneBatch(shard, records, lane.items[lane.in_flight - 1].through_seq)

    def applied(self, shard: int, results: Sequence[ApplyResult]) -> list[Settled]:
        """The lane's batch was applied, one result per record; return the groups now
        answered."""
        lane = self._lanes[shard]
        settled: list[Settled] = []
        offset = 0
        for _ in range(lane.in_flight):
            item = lane.items.popleft()
            lane.backlog -= len(item.records)
            lane.backlog_bytes -= sum(len(record.event) for record in item.records)
            lane.applied_through = item.through_seq
            for epoch in item.epochs:
                self._holds.release(epoch)
            answered = results[offset : offset + len(item.records)]
            offset += len(item.records)
            if item.group is not None and item.records:
                done = self._fill(item.group, item.answers, answered)
                if done is not None:
                    settled.append(done)
        lane.in_flight = 0
        lane.failure = None
        return settled

    def _fill(
        self, first: int, answers: list[int | None], results: Sequence[ApplyResult]
    ) -> Settled | None:
        group = self._groups[first]
        for index, result in zip(answers, results, strict=True):
            if index is not None:
                group.results[index] = result
        group.lanes_left -= 1
        if group.lanes_left:
            return None
        del self._groups[first]
        if group.settled:
            return None
        assert all(result is not None for result in group.results)
        return Settled(first, results=[r for r in group.results if r is not None])

    def failed(self, shard: int, error: Exception) -> list[Settled]:
        """The lane's batch failed: it stays queued for a retry. Return every group waiting on
        the lane, failed: their requests are answered now rather than after the shard is back."""
        lane = self._lanes[shard]
        lane.in_flight = 0
        lane.failure = error
        settled: list[Settled] = []
        for item in lane.items:
            if item.group is None or not item.records:
                continue
            group = self._groups[item.group]
            if not group.settled:
                group.settled = True
                settled.append(Settled(item.group, error=error))
        return settled

    def full_shards(self, route: Route, keys: Iterable[tuple[str, str]]) -> list[int]:
        """The shards `route` writes these (tenant, event id) keys to whose lane is full."""
        full = {
            shard
            for shard, lane in self._lanes.items()
            if lane.backlog_bytes >= self._max_backlog_bytes
        }
        if not full:
            return []
        touched = {shard for key in keys for shard in route.write_shards(*key)}
        return sorted(full & touched)

    def failing(self, shard: int) -> bool:
        """Whether the lane's last batch failed (and none applied since)."""
        lane = self._lanes.get(shard)
        return lane is not None and lane.failure is not None

    def has_work(self, shard: int) -> bool:
        """Whether the lane has items and none being applied."""
        lane = self._lanes.get(shard)
        return lane is not None and bool(lane.items) and not lane.in_flight

    @property
    def shards(self) -> list[int]:
        """Every shard that has had a lane."""
        return sorted(self._lanes)

    def backlog(self, shard: int) -> int:
        """Records routed to the shard and not applied there yet."""
        lane = self._lanes.get(shard)
        return 0 if lane is None else lane.backlog

    @property
    def total_backlog(self) -> int:
        """Records waiting: not yet routed, or routed and not applied (once per lane)."""
        waiting = sum(len(records) for records in self._arrived.values())
        return waiting + sum(lane.backlog for lane in self._lanes.values())

    def applied_through(self, shard: int) -> int:
        """The position this lane last recorded for the stream on its shard (0: none yet)."""
        lane = self._lanes.get(shard)
        return 0 if lane is None else lane.applied_through

    def abandon(self) -> list[int]:
        """Drop every item (the applier closes: the records stay in the WAL, and recovery
        applies them), releasing their epochs; return the groups still unanswered."""
        for lane in self._lanes.values():
            for item in lane.items:
                for epoch in item.epochs:
                    self._holds.release(epoch)
            lane.items.clear()
            lane.in_flight = lane.backlog = lane.backlog_bytes = 0
        unanswered = [first for first, group in self._groups.items() if not group.settled]
        self._groups.clear()
        self._arrived.clear()
        return unanswered
