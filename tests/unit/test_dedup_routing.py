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


@pytest.mark.parametrize("phase", [Phase.PLAN, Phase.COPY, Phase.VERIFY, Phase.CLEANUP])
def test_other_phases_write_only_the_current_ring(phase: Phase) -> None:
    route = Route(epoch=3, ring_size=2, phase=phase, next_ring_size=3)
    assert not route.dual_writing and route.written_shards == range(2)
    assert all(len(route.write_shards(t, e)) == 1 for t, e in KEYS)


def test_a_route_must_fit_the_configured_shards() -> None:
    route = Route(epoch=2, ring_size=2, phase=Phase.DUAL_WRITE, next_ring_size=4)
    with pytest.raises(RoutingError, match="uses 4 shards, but the configuration lists only 3"):
        RoutingTable(route, configured_shards=3)
    assert RoutingTable(route, configured_shards=4).route is route
