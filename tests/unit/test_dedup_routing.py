"""Routes: where reads and writes of a key go, in a stable ring and while re-sharding."""

from __future__ import annotations

import pytest

from ledger.ring import shard_of
from storage.dedup import Phase, Route, RoutingError, RoutingTable

KEYS = [("acme", f"e{i}") for i in range(500)]


def test_a_stable_route_reads_and_writes_the_jump_hash_shard() -> None:
    route = Route(epoch=1, ring_size=4, phase=Phase.STABLE)
    for tenant, event in KEYS:
        assert route.read_shard(tenant, event) == shard_of(tenant, event, 4)
        assert route.write_shards(tenant, event) == (shard_of(tenant, event, 4),)
    assert route.shard_count == 4 and not route.dual_writing
    assert route.written_shards == range(4)


def test_dual_write_adds_the_next_rings_shard_only_for_keys_that_move() -> None:
    route = Route(epoch=2, ring_size=2, phase=Phase.DUAL_WRITE, next_ring_size=3)
    moved = 0
    for tenant, event in KEYS:
        shards = route.write_shards(tenant, event)
        assert shards[0] == route.read_shard(tenant, event) == shard_of(tenant, event, 2)
        if len(shards) == 2:
            moved += 1
            # Jump hash moves a key only onto the new shard.
            assert shards[1] == 2 == shard_of(tenant, event, 3)
    assert 0.2 < moved / len(KEYS) < 0.45  # about 1/3 of the keys move to the third shard
    assert route.shard_count == 3 and route.written_shards == range(3)


@pytest.mark.parametrize(
    ("phase", "read_ring", "write_rings"),
    [
        (Phase.STABLE, 2, (2,)),
        (Phase.PLAN, 2, (2,)),
        (Phase.COPY, 2, (2,)),
        (Phase.VERIFY, 2, (2,)),
        (Phase.DUAL_WRITE, 2, (2, 4)),
        (Phase.CUTOVER_READS, 4, (2, 4)),
        (Phase.CUTOVER, 4, (4, 2)),
        (Phase.CLEANUP, 4, (4,)),
    ],
)
def test_each_phase_reads_one_ring_and_writes_its_rings_read_shard_first(
    phase: Phase, read_ring: int, write_rings: tuple[int, ...]
) -> None:
    next_ring = None if phase is Phase.STABLE else 4
    route = Route(epoch=3, ring_size=2, phase=phase, next_ring_size=next_ring)
    assert route.read_ring == read_ring and route.read_shards == range(read_ring)
    assert route.write_rings == write_rings
    assert route.written_shards == range(max(write_rings))
    assert route.dual_writing == (len(write_rings) > 1)
    assert route.shard_count == (2 if next_ring is None else 4)
    for tenant, event in KEYS:
        read = shard_of(tenant, event, read_ring)
        on_rings = {shard_of(tenant, event, ring) for ring in write_rings}
        shards = route.write_shards(tenant, event)
        assert route.read_shard(tenant, event) == read
        assert shards[0] == read and set(shards) == on_rings and len(shards) == len(on_rings)


def test_shrinking_answers_from_the_smaller_ring_once_reads_cut_over() -> None:
    route = Route(epoch=5, ring_size=4, phase=Phase.CUTOVER_READS, next_ring_size=2)
    moved = [(t, e) for t, e in KEYS if shard_of(t, e, 4) != shard_of(t, e, 2)]
    assert moved
    for tenant, event in moved:
        # The old ring is still written, but the answer comes from the ring reads use.
        assert route.write_shards(tenant, event) == (
            shard_of(tenant, event, 2),
            shard_of(tenant, event, 4),
        )
    assert route.written_shards == range(4) and route.read_shards == range(2)


def test_a_route_must_fit_the_configured_shards() -> None:
    route = Route(epoch=2, ring_size=2, phase=Phase.DUAL_WRITE, next_ring_size=4)
    with pytest.raises(RoutingError, match="uses 4 shards, but the configuration lists only 3"):
        RoutingTable(route, configured_shards=3)
    assert RoutingTable(route, configured_shards=4).route is route
